"""Run a Lambda handler on an event file in a process of its own, so its peak memory can be measured.

    python -m tests.support.invoke ingest.handlers.s3:handler event.json

The handler is built from the environment like in Lambda; its response is printed as one JSON line.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from tests.support.lambda_events import Context


def main(argv: list[str]) -> int:
    """Invoke ``module:function`` with the event in the file named second; print the response."""
    target, event_file = argv
    module, _, function = target.partition(":")
    handler = getattr(importlib.import_module(module), function)
    event = json.loads(Path(event_file).read_text(encoding="utf-8"))
    response = handler(event, Context(millis=900_000))
    sys.stdout.write(json.dumps(response) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
