#!/usr/bin/env bash
# Install what the tests need and run them: the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --disable-pip-version-check -e '.[test]'
python -m pytest "$@"
