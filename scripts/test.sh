#!/bin/sh
# The whole test suite on a fresh Debian 12 machine, as root: installs what the tests need,
# then runs ruff and pytest against the installed plugins.
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh --test
.venv/bin/ruff check --quiet .
.venv/bin/ruff format --check --quiet .
exec .venv/bin/python -m pytest -q "$@"
