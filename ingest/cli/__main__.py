"""``python -m ingest.cli``: the same as the ``waflens`` command."""

from __future__ import annotations

from ingest.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
