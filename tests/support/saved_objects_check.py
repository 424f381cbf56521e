"""An offline checker for Dashboards saved-object bundles (``reference/opensearch-validation.md`` §4.3).

Dashboards validates almost nothing on import and fails only when it renders, so the eleven rules read
from its source are checked here, plus the project's own: every aggregation field exists in waflens's
index mapping and can be aggregated (a terms agg on a text field draws an empty chart), and the panels
of a dashboard fit the 48-column grid without overlapping. Every function returns ``list[str]``; empty
means accepted.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from dashboards.mappings import document_mappings
from tests.support.opensearch_spec import mapping_field_rules

JSON = dict[str, Any]

GRID_COLUMNS: Final = 48
# Types the import accepts (rule 4), and the last migration of those whose migrations waflens emits (rule 5).
IMPORTABLE: Final = frozenset(
    {
        "config",
        "index-pattern",
        "visualization",
        "dashboard",
        "search",
        "url",
        "query",
        "augment-vis",
        "visualization-visbuilder",
    }
)
LAST_MIGRATION: Final = {
    "index-pattern": "7.6.0",
    "visualization": "7.10.0",
    "dashboard": "7.9.3",
    "search": "7.9.3",
}
# The saved-objects index is dynamic: strict, so these types accept only their mapped attributes (rule 6).
_META: Final = {"searchSourceJSON": "text"}
ATTRIBUTES: Final[dict[str, JSON]] = {
    "visualization": {
        "description": "text",
        "kibanaSavedObjectMeta": _META,
        "savedSearchRefName": "keyword",
        "title": "text",
        "uiStateJSON": "text",
        "version": "integer",
        "visState": "text",
    },
    "dashboard": {
        "description": "text",
        "hits": "integer",
        "kibanaSavedObjectMeta": _META,
        "optionsJSON": "text",
        "panelsJSON": "text",
        "refreshInterval": {
            "display": "keyword",
            "pause": "boolean",
            "section": "integer",
            "value": "integer",
        },
        "timeFrom": "keyword",
        "timeRestore": "boolean",
        "timeTo": "keyword",
        "title": "text",
        "version": "integer",
    },
    "search": {
        "columns": "keyword",
        "description": "text",
        "hits": "integer",
        "kibanaSavedObjectMeta": _META,
        "sort": "keyword",
        "title": "text",
        "version": "integer",
    },
}
# JSON-in-string attributes and the kind of JSON value each holds (rule 7).
JSON_ATTRIBUTES: Final = {
    ("visState",): dict,
    ("uiStateJSON",): dict,
    ("optionsJSON",): dict,
    ("panelsJSON",): list,
    ("kibanaSavedObjectMeta", "searchSourceJSON"): dict,
    ("fields",): list,
    ("fieldFormatMap",): dict,
    ("sourceFilters",): list,
}


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def parse_ndjson(text: str) -> tuple[list[JSON], list[str]]:
    """Rule 1: each non-blank line is one JSON object; the export summary line is skipped."""
    objects: list[JSON] = []
    errors: list[str] = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {number}: not JSON ({e.msg})")
            continue
        if not isinstance(value, dict):
            errors.append(f"line {number}: not a JSON object")
        elif "exportedCount" not in value:
            objects.append(value)
    return objects, errors


def check_ndjson(text: str, *, mappings: Mapping[str, Any] | None = None) -> list[str]:
    """Every rule, over an ``.ndjson`` bundle as the import API would read it."""
    objects, errors = parse_ndjson(text)
    return errors + check_objects(objects, mappings=mappings)


def check_objects(objects: list[JSON], *, mappings: Mapping[str, Any] | None = None) -> list[str]:
    """Rules 2-11 and the project rules over parsed objects (``SavedObject.as_dict()`` or export lines)."""
    errors: list[str] = []
    keys: set[str] = set()
    for n, o in enumerate(objects):
        if not all(isinstance(o.get(k), str) for k in ("type", "id")) or not isinstance(
            o.get("attributes"), dict
        ):
            errors.append(f"object {n}: needs string type and id and an attributes object")  # rule 2
            continue
        key = f"{o['type']}:{o['id']}"
        if key in keys:
            errors.append(f"{key}: duplicate type:id, the whole import would be rejected")  # rule 3
        keys.add(key)
    for o in objects:
        if isinstance(o.get("attributes"), dict) and isinstance(o.get("type"), str):
            errors += [f"{o['type']}:{o.get('id')}: {e}" for e in _object_errors(o, keys, mappings)]
    return errors


def _object_errors(o: JSON, keys: set[str], mappings: Mapping[str, Any] | None) -> list[str]:
    kind, attributes = o["type"], o["attributes"]
    if kind not in IMPORTABLE:
        return [f"type {kind!r} is not importable"]  # rule 4
    errors = _migration_errors(kind, o.get("migrationVersion"))
    if kind in ATTRIBUTES:
        errors += _attribute_errors(attributes, ATTRIBUTES[kind], "")
    decoded, json_errors = _decode(attributes)
    errors += json_errors
    references, ref_errors = _references(o.get("references"), keys)
    errors += ref_errors
    errors += _ref_name_errors(decoded, attributes, references)
    if isinstance(decoded.get("panelsJSON"), list):
        errors += panel_errors(decoded["panelsJSON"])
    if isinstance(decoded.get("visState"), dict):
        errors += _vis_state_errors(decoded["visState"], mappings)
    return errors


def _migration_errors(kind: str, migration: object) -> list[str]:
    """Rule 5: present and not newer than the last migration Dashboards knows."""
    if not isinstance(migration, dict) or not isinstance(migration.get(kind), str):
        return [f"migrationVersion.{kind} missing: every migration since 6.x would rewrite the object"]
    try:
        version = _version(migration[kind])
    except ValueError:
        return [f"migrationVersion.{kind} {migration[kind]!r} is not a version"]
    last = LAST_MIGRATION.get(kind)
    if last and version > _version(last):
        return [f"migrationVersion.{kind} {migration[kind]} is newer than the last known migration {last}"]
    return []


def _scalar_ok(value: object, expected: str) -> bool:
    if isinstance(value, list):
        return all(_scalar_ok(v, expected) for v in value)  # any mapped field may hold an array
    if expected in ("text", "keyword"):
        return isinstance(value, str)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, bool)


def _attribute_errors(attributes: Mapping[str, Any], mapping: JSON, prefix: str) -> list[str]:
    """Rule 6: attribute names (nested ones too) within the type mapping, scalar types matching."""
    errors: list[str] = []
    for name, value in attributes.items():
        where = f"{prefix}{name}"
        expected = mapping.get(name)
        if expected is None:
            errors.append(f"attribute {where!r} is not in the type's mapping (strict: the import fails)")
        elif isinstance(expected, dict):
            if not isinstance(value, dict):
                errors.append(f"attribute {where!r} must be an object")
            else:
                errors += _attribute_errors(value, expected, f"{where}.")
        elif value is not None and not _scalar_ok(value, expected):
            errors.append(f"attribute {where!r} must be {expected}, not {type(value).__name__}")
    return errors


def _decode(attributes: Mapping[str, Any]) -> tuple[JSON, list[str]]:
    """Rule 7: each JSON-in-string attribute parses to the right kind. Returns the decoded values."""
    decoded: JSON = {}
    errors: list[str] = []
    for path, kind in JSON_ATTRIBUTES.items():
        value: Any = attributes
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if value is None:
            continue
        name = ".".join(path)
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError as e:
            errors.append(f"{name} is not valid JSON ({e.msg})")
            continue
        if not isinstance(value, str) or not isinstance(parsed, kind):
            errors.append(f"{name} must be a JSON string holding an {'array' if kind is list else 'object'}")
            continue
        decoded[path[-1]] = parsed
    return decoded, errors


def _references(references: object, keys: set[str]) -> tuple[dict[str, JSON], list[str]]:
    """Rule 8: each reference has string name, type and id, and resolves inside the bundle."""
    if not isinstance(references, list):
        return {}, ["references must be a list"]
    by_name: dict[str, JSON] = {}
    errors: list[str] = []
    for r in references:
        if not isinstance(r, dict) or not all(isinstance(r.get(k), str) for k in ("name", "type", "id")):
            errors.append(f"reference {r!r} needs string name, type and id")
            continue
        by_name[r["name"]] = r
        if f"{r['type']}:{r['id']}" not in keys:
            errors.append(f"reference {r['name']} -> {r['type']}:{r['id']} is not in the bundle")
    return by_name, errors


def _ref_name_errors(decoded: JSON, attributes: Mapping[str, Any], references: dict[str, JSON]) -> list[str]:
    """Rule 9: indexRefName, filter indexRefNames, panelRefName and savedSearchRefName name a reference."""
    names: list[str] = []
    source = decoded.get("searchSourceJSON")
    if isinstance(source, dict):
        names += [source["indexRefName"]] if "indexRefName" in source else []
        names += [
            f["meta"]["indexRefName"]
            for f in source.get("filter") or []
            if isinstance(f, dict) and isinstance(f.get("meta"), dict) and "indexRefName" in f["meta"]
        ]
    names += [
        p["panelRefName"]
        for p in decoded.get("panelsJSON") or []
        if isinstance(p, dict) and "panelRefName" in p
    ]
    if "savedSearchRefName" in attributes:
        names.append(attributes["savedSearchRefName"])
    return [f"{name!r} has no matching reference" for name in names if name not in references]


def panel_errors(panels: list[Any]) -> list[str]:
    """Rule 10, then the project's grid rule: integer x, y, w, h, a string i, 48 columns, no overlap."""
    errors: list[str] = []
    boxes: list[tuple[str, int, int, int, int]] = []
    for n, panel in enumerate(panels):
        grid = panel.get("gridData") if isinstance(panel, dict) else None
        if not isinstance(grid, dict) or "panelIndex" not in panel:
            errors.append(f"panel {n} needs gridData and panelIndex")
            continue
        numbers = [grid.get(k) for k in ("x", "y", "w", "h")]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in numbers) or not isinstance(
            grid.get("i"), str
        ):
            errors.append(f"panel {n}: gridData needs integer x, y, w, h and a string i")
            continue
        x, y, w, h = numbers
        if x < 0 or y < 0 or w < 1 or h < 1 or x + w > GRID_COLUMNS:
            errors.append(f"panel {n}: x {x} + w {w} does not fit the {GRID_COLUMNS}-column grid")
        for other, ox, oy, ow, oh in boxes:
            if x < ox + ow and ox < x + w and y < oy + oh and oy < y + h:
                errors.append(f"panel {n} overlaps panel {other}")
        boxes.append((str(n), x, y, w, h))
    return errors


def _vis_state_errors(state: JSON, mappings: Mapping[str, Any] | None) -> list[str]:
    """Rule 11, then the project rule: agg fields are mapped and aggregatable."""
    errors = [f"visState needs {key}" for key in ("type", "params") if key not in state]
    aggs = state.get("aggs", [])
    if not isinstance(aggs, list):
        return [*errors, "visState.aggs must be a list"]
    mapped = document_mappings() if mappings is None else mappings
    for n, agg in enumerate(aggs):
        missing = [k for k in ("id", "type", "schema") if not isinstance(agg, dict) or k not in agg]
        if missing:
            errors.append(f"visState.aggs[{n}] needs {', '.join(missing)}")
            continue
        field = (agg.get("params") or {}).get("field")
        if isinstance(field, str):
            errors += [
                f"visState.aggs[{n}] ({agg['type']}): {e}"
                for e in mapping_field_rules(mapped, [field], aggregatable=True)
            ]
            if agg["type"] == "date_histogram" and _field_type(mapped, field) != "date":
                errors.append(f"visState.aggs[{n}]: date_histogram on {field}, which is not a date")
    return errors


def _field_type(mappings: Mapping[str, Any], field: str) -> str | None:
    node: Any = mappings
    for part in field.split("."):
        node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
    return node.get("type") if isinstance(node, dict) else None
