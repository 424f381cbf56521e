"""Serve ``devtools.fake_opensearch.FakeOpenSearch`` in a process of its own, so the documents it keeps stay
out of the memory a test measures: ``python -m tests.support.serve_fake_opensearch`` prints its URL on one
line, then serves until its standard input closes.
"""

from __future__ import annotations

import sys

from devtools.fake_opensearch import FakeOpenSearch


def main() -> int:
    """Serve until standard input closes."""
    with FakeOpenSearch() as fake:
        sys.stdout.write(fake.url + "\n")
        sys.stdout.flush()
        sys.stdin.read()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
