"""`python -m adapters`: the `order-lifecycle` command-line tool."""

from adapters.entrypoints.cli import main

raise SystemExit(main())
