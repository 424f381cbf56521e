"""``waflens setup --render DIR``: every request and the saved objects as files, nothing sent."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from dashboards.cluster import canonical
from dashboards.registry import SetupContent
from ingest.setup.changes import stamped
from ingest.setup.dashboards import IMPORT_FILE, IMPORT_PATH, headers, ndjson
from ingest.setup.opensearch import ordered

SAVED_OBJECTS_FILE: Final = "saved-objects.ndjson"
IMPORT_REQUEST_FILE: Final = "saved-objects-import.json"


def render(content: SetupContent, directory: Path) -> list[Path]:
    """Write ``NN-<name>.json`` per request in apply order, then the saved objects and their import call.

    Returns the files written. ``:`` in a request name becomes ``-`` in its file name.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for number, request in enumerate(ordered(list(content.requests)), start=1):
        path = directory / f"{number:02d}-{request.name.replace(':', '-')}.json"
        path.write_text(request.render(), encoding="utf-8")
        written.append(path)
    if content.saved_objects:
        objects = directory / SAVED_OBJECTS_FILE
        objects.write_bytes(ndjson([stamped(obj.as_dict()) for obj in content.saved_objects]))
        call = directory / IMPORT_REQUEST_FILE
        call.write_text(
            canonical(
                {
                    "method": "POST",
                    "path": f"{IMPORT_PATH}?overwrite=true",
                    "headers": headers(content.tenant),
                    "multipart": {"file": {"filename": IMPORT_FILE, "content": SAVED_OBJECTS_FILE}},
                }
            ),
            encoding="utf-8",
        )
        written += [objects, call]
    return written
