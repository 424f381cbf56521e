#!/usr/bin/env bash
# Install waflens with its test dependencies into .venv, then lint, type-check and run the test suite.
# Extra arguments go to pytest (e.g. `bash scripts/test.sh -k redact`).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -e '.[test]'
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
