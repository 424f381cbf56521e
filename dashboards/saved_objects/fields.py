"""Which document fields the saved objects name, read back from the encoded objects themselves."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Final

from dashboards.saved_objects.objects import SavedObject

_QUOTED: Final = re.compile(r'"(?:[^"\\]|\\.)*"')
_ESCAPED: Final = re.compile(r"\\.")
# A KQL field reference: a name at the start of a clause, followed by ``:`` or a range operator.
_FIELD: Final = re.compile(r"(?:^|[\s(])([A-Za-z_@][\w.@]*)\s*(?::|<=|>=|<|>)")
_NOT_DOCUMENT_FIELDS: Final = frozenset({"_source", "_score"})


def query_fields(kql: str) -> set[str]:
    """The fields a KQL query names (quoted and escaped text is not looked into)."""
    plain = _ESCAPED.sub("_", _QUOTED.sub('""', kql))
    return set(_FIELD.findall(plain))


def _loads(text: object) -> object:
    return json.loads(text) if isinstance(text, str) else None


def _search_source_fields(attributes: Mapping[str, object]) -> set[str]:
    meta = attributes.get("kibanaSavedObjectMeta")
    source = _loads(meta.get("searchSourceJSON")) if isinstance(meta, Mapping) else None
    if not isinstance(source, Mapping):
        return set()
    fields: set[str] = set()
    query = source.get("query")
    if isinstance(query, Mapping) and isinstance(query.get("query"), str):
        fields |= query_fields(query["query"])
    for item in source.get("filter") or []:
        key = item.get("meta", {}).get("key") if isinstance(item, Mapping) else None
        if isinstance(key, str):
            fields.add(key)
    return fields


def _agg_fields(attributes: Mapping[str, object]) -> set[str]:
    state = _loads(attributes.get("visState"))
    aggs = state.get("aggs", []) if isinstance(state, Mapping) else []
    return {
        agg["params"]["field"]
        for agg in aggs
        if isinstance(agg.get("params"), Mapping) and isinstance(agg["params"].get("field"), str)
    }


def fields_used(objects: Iterable[SavedObject]) -> set[str]:
    """Every document field the objects name: aggregations, search columns and sort, queries and filters.

    The index pattern's time field counts; its field list does not (it is the mapping itself).
    """
    fields: set[str] = set()
    for o in objects:
        attributes = o.attributes
        fields |= _search_source_fields(attributes) | _agg_fields(attributes)
        if isinstance(attributes.get("timeFieldName"), str):
            fields.add(str(attributes["timeFieldName"]))
        columns = attributes.get("columns")
        fields |= {c for c in columns if isinstance(c, str)} if isinstance(columns, list) else set()
        sort = attributes.get("sort")
        fields |= {s[0] for s in sort if isinstance(s, list) and s} if isinstance(sort, list) else set()
    return fields - _NOT_DOCUMENT_FIELDS
