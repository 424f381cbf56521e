"""What setup decides, as pure functions: digests of content, and whether each piece is new, stale or edited.

The cluster normalises what it stores (settings become strings, plugins add defaults), so comparing
bodies would always differ. Each body carries a digest of itself instead: the template's
``_meta.digest``, ``[digest …]`` at the end of a policy, tenant, role, mapping or detector description,
``ui_metadata.waflens.digest`` on a monitor, and ``[waflens …]`` at the end of a saved object's
description. Equal digests mean nothing to do.

A saved object's digest covers its content as waflens wrote it, so setup can also tell when somebody
edited it on the cluster since: then the object's content no longer matches its own digest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from dashboards.cluster import digest

Change = Literal["created", "updated", "unchanged", "changed on the cluster", "replaced"]
CHANGED: Final = "changed on the cluster"
DIGEST: Final = re.compile(r"\[digest ([0-9a-f]+)\]\s*$")
_MARKER: Final = re.compile(r"\s*\[waflens ([0-9a-f]+)\]\s*$")
# Attributes OpenSearch Dashboards maps for each type (its saved-objects index is dynamic: strict, so
# nothing else can be stored on these types); a key outside these never counts towards the digest.
MAPPED_ATTRIBUTES: Final[Mapping[str, frozenset[str]]] = {
    "visualization": frozenset(
        {"description", "kibanaSavedObjectMeta", "savedSearchRefName", "title", "uiStateJSON", "version"}
        | {"visState"}
    ),
    "dashboard": frozenset(
        {"description", "hits", "kibanaSavedObjectMeta", "optionsJSON", "panelsJSON", "refreshInterval"}
        | {"timeFrom", "timeRestore", "timeTo", "title", "version"}
    ),
    "search": frozenset(
        {"columns", "description", "hits", "kibanaSavedObjectMeta", "sort", "title"} | {"version"}
    ),
}
_JSON_STRINGS: Final = ("visState", "panelsJSON", "uiStateJSON", "optionsJSON")
INDEX_PATTERN: Final = "index-pattern"
_PATTERN_KEYS: Final = ("title", "timeFieldName")
SavedDict = Mapping[str, object]


def described_digest(description: object) -> str | None:
    """The ``[digest …]`` at the end of a description, or None."""
    found = DIGEST.search(description) if isinstance(description, str) else None
    return found.group(1) if found else None


def _attributes(obj: SavedDict) -> Mapping[str, object]:
    attributes = obj.get("attributes")
    return attributes if isinstance(attributes, Mapping) else {}


def _parsed(value: object) -> object:
    """A JSON-in-JSON string as the value it holds (so spacing and key order do not count)."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _content(obj: SavedDict) -> dict[str, object]:
    kind = str(obj.get("type"))
    attributes = _attributes(obj)
    keys = sorted(set(attributes) & MAPPED_ATTRIBUTES.get(kind, frozenset(attributes)))
    content: dict[str, object] = {
        key: _parsed(attributes[key]) if key in _JSON_STRINGS else attributes[key] for key in keys
    }
    if isinstance(content.get("description"), str):
        content["description"] = _MARKER.sub("", str(content["description"]))
    meta = content.get("kibanaSavedObjectMeta")
    if isinstance(meta, Mapping):
        content["kibanaSavedObjectMeta"] = {key: _parsed(value) for key, value in meta.items()}
    references = obj.get("references")
    rows = references if isinstance(references, list) else []
    content["references"] = sorted(
        (str(r.get("name")), str(r.get("type")), str(r.get("id"))) for r in rows if isinstance(r, Mapping)
    )
    return content


def content_digest(obj: SavedDict) -> str:
    """The digest of a saved object's content: waflens-emitted attributes and sorted references."""
    return digest(_content(obj))


def stored_marker(obj: SavedDict) -> str | None:
    """The digest in the ``[waflens …]`` marker of an object's description, or None."""
    description = _attributes(obj).get("description")
    found = _MARKER.search(description) if isinstance(description, str) else None
    return found.group(1) if found else None


def stamped(obj: SavedDict) -> dict[str, object]:
    """The object as waflens writes it: its description ends in ``[waflens <content digest>]``."""
    line = dict(obj)
    if obj.get("type") not in MAPPED_ATTRIBUTES:
        return line
    attributes = dict(_attributes(obj))
    plain = _MARKER.sub("", str(attributes.get("description") or ""))
    attributes["description"] = plain
    line["attributes"] = attributes
    attributes["description"] = f"{plain} [waflens {content_digest(line)}]".lstrip()
    return line


def classify(wanted: SavedDict, current: SavedDict | None) -> Change:
    """What to do with one saved object, given its copy on the cluster (None: not there)."""
    if current is None:
        return "created"
    if wanted.get("type") == INDEX_PATTERN:
        mine, theirs = _attributes(wanted), _attributes(current)
        same = all(mine.get(key) == theirs.get(key) for key in _PATTERN_KEYS)
        return "unchanged" if same else CHANGED
    stored = stored_marker(current)
    if stored is None or stored != content_digest(current):
        return CHANGED  # edited since waflens wrote it, or never written by waflens
    return "unchanged" if stored == content_digest(stamped(wanted)) else "updated"


@dataclass(frozen=True)
class ChangedObject:
    """A saved object somebody changed on the cluster, named the way Dashboards lists it."""

    type: str
    id: str
    title: str

    @classmethod
    def of(cls, current: SavedDict) -> ChangedObject:
        """Type, id and title of the cluster's copy."""
        title = _attributes(current).get("title")
        return cls(str(current.get("type")), str(current.get("id")), str(title) if title else "")


@dataclass
class SetupReport:
    """What setup did, per request name (``index-template``, ``role:analyst``, ``dashboard:waflens``)."""

    changes: dict[str, Change] = field(default_factory=dict)
    changed_on_cluster: list[ChangedObject] = field(default_factory=list)  # left as the user left them
    backup: Path | None = None

    @property
    def kept_user_changes(self) -> bool:
        """Some saved objects were not updated because somebody changed them on the cluster."""
        return bool(self.changed_on_cluster)

    def as_dict(self) -> dict[str, object]:
        """The summary: each name's change, then the changed objects and the backup when there are any."""
        summary: dict[str, object] = dict(self.changes)
        if self.changed_on_cluster:
            summary["changed_on_cluster"] = [vars(changed) for changed in self.changed_on_cluster]
        if self.backup is not None:
            summary["backup"] = str(self.backup)
        return summary


def saved_name(obj: SavedDict) -> str:
    """A saved object's name in the report: ``<type>:<id>``."""
    return f"{obj.get('type')}:{obj.get('id')}"
