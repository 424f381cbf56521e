"""Saved objects as Dashboards' ``_import`` API takes them: one JSON object a line, deterministic.

The shapes follow real exports (``reference/opensearch-validation.md`` §4.2): ``migrationVersion`` set to
the last migration of each type, so Dashboards runs none and stores the objects as written.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

ObjectType = Literal["index-pattern", "search", "visualization", "dashboard"]

# The last migration OpenSearch Dashboards knows for each type; a newer one makes the import fail.
MIGRATION_VERSIONS: Final[dict[ObjectType, str]] = {
    "index-pattern": "7.6.0",
    "search": "7.9.3",
    "visualization": "7.10.0",
    "dashboard": "7.9.3",
}
# The name Dashboards gives the reference to the index a search source reads.
INDEX_REF_NAME: Final = "kibanaSavedObjectMeta.searchSourceJSON.index"


@dataclass(frozen=True)
class Reference:
    """A link from one saved object to another, by type and id, under a name the attributes use."""

    name: str
    type: ObjectType
    id: str

    def as_dict(self) -> dict[str, str]:
        """The reference as it appears in an export."""
        return {"name": self.name, "type": self.type, "id": self.id}


@dataclass(frozen=True)
class SavedObject:
    """One saved object: its attributes are plain JSON (the JSON-in-string ones already encoded)."""

    type: ObjectType
    id: str
    attributes: dict[str, object]
    references: tuple[Reference, ...] = ()
    migration_version: str = field(default="")

    def __post_init__(self) -> None:
        if not self.migration_version:
            object.__setattr__(self, "migration_version", MIGRATION_VERSIONS[self.type])

    @property
    def key(self) -> str:
        """``type:id``, unique within a bundle."""
        return f"{self.type}:{self.id}"

    def as_dict(self) -> dict[str, object]:
        """The object as one line of an export file."""
        return {
            "type": self.type,
            "id": self.id,
            "attributes": self.attributes,
            "references": [r.as_dict() for r in self.references],
            "migrationVersion": {self.type: self.migration_version},
        }


def encode(value: object) -> str:
    """The JSON text stored inside a string attribute (``visState``, ``panelsJSON``, ...): compact, sorted."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_ndjson(objects: Iterable[SavedObject]) -> str:
    """What ``POST /api/saved_objects/_import`` takes: one object a line, sorted keys, trailing newline.

    Raises ValueError on a repeated ``type:id``: Dashboards would reject the whole file with 400.
    """
    objects = tuple(objects)
    seen: set[str] = set()
    for o in objects:
        if o.key in seen:
            raise ValueError(f"saved object {o.key} appears twice; an import would be rejected")
        seen.add(o.key)
    return "".join(encode(o.as_dict()) + "\n" for o in objects)
