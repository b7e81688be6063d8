"""`python -m adapters`: the `order-lifecycle` command-line tool."""

from adapters.cli import main

raise SystemExit(main())
