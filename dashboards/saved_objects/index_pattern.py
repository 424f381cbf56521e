"""The index pattern over the daily indices, with its field list derived from the index mapping.

Real exports always carry ``fields``; shipping it means the dashboards work on first open, before anyone
refreshes the pattern, and it cannot drift from the mapping because both come from ``enrich/schema.py``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Final

from dashboards.mappings import document_mappings
from dashboards.saved_objects.objects import SavedObject, encode
from dashboards.saved_objects.settings import DashboardSettings

Json = dict[str, object]

# OpenSearch field type -> the Dashboards field type the index pattern records.
_KIND: Final = {
    "keyword": "string",
    "text": "string",
    "long": "number",
    "integer": "number",
    "double": "number",
    "boolean": "boolean",
    "date": "date",
    "ip": "ip",
}
_AGGREGATABLE: Final = frozenset(_KIND) - {"text"}
# The metadata fields every export lists: (name, type, searchable, aggregatable).
_META: Final = (
    ("_id", "string", True, True),
    ("_index", "string", True, True),
    ("_score", "number", False, False),
    ("_source", "_source", False, False),
)


def _spec(name: str, es_type: str, sub_type: Json | None) -> Json:
    aggregatable = es_type in _AGGREGATABLE
    spec: Json = {
        "name": name,
        "type": _KIND[es_type],
        "esTypes": [es_type],
        "count": 0,
        "scripted": False,
        "searchable": True,
        "aggregatable": aggregatable,
        "readFromDocValues": aggregatable,
    }
    if sub_type:
        spec["subType"] = sub_type
    return spec


def _leaves(properties: Mapping[str, object], prefix: str, nested: str | None) -> Iterator[Json]:
    """Leaf fields under ``properties``; ``nested`` is the path of the closest enclosing nested field."""
    for name, node in properties.items():
        assert isinstance(node, Mapping)
        path = f"{prefix}{name}"
        inside = path if node.get("type") == "nested" else nested
        if "properties" in node:
            yield from _leaves(node["properties"], f"{path}.", inside)
            continue
        es_type = str(node["type"])
        yield _spec(path, es_type, {"nested": {"path": nested}} if nested else None)
        for sub, sub_node in node.get("fields", {}).items():
            yield _spec(f"{path}.{sub}", sub_node["type"], {"multi": {"parent": path}})


def field_specs() -> list[Json]:
    """Every mapped leaf field (multi-fields and nested fields marked as such) plus the metadata fields."""
    meta = [
        {
            "name": name,
            "type": kind,
            "esTypes": [name],
            "count": 0,
            "scripted": False,
            "searchable": searchable,
            "aggregatable": aggregatable,
            "readFromDocValues": False,
        }
        for name, kind, searchable, aggregatable in _META
    ]
    properties = document_mappings()["properties"]
    assert isinstance(properties, Mapping)
    return sorted([*meta, *_leaves(properties, "", None)], key=lambda spec: str(spec["name"]))


def index_pattern(settings: DashboardSettings) -> SavedObject:
    """The index pattern every visualization and search reads."""
    attributes: Json = {
        "title": settings.index_pattern,
        "timeFieldName": settings.time_field,
        "fields": encode(field_specs()),
    }
    return SavedObject("index-pattern", settings.index_pattern_id, attributes)
