"""Index mappings generated from the enrich schema, so no field can reach OpenSearch unmapped.

Choices, each for a reason:
* ``dynamic: false`` at the root: fields AWS adds later stay in ``_source`` (lossless) without creating
  mappings, and attacker-chosen values can never become field names.
* The four rule lists are ``nested`` so "rule X with action Y" queries are correct; lists inside them
  are plain objects to bound the hidden nested documents, and ``waflens.rule_ids`` and friends are flat
  keyword arrays beside them for dashboards.
* Headers stay WAF's ordered name/value list: an object array with ``name`` and ``value`` keywords,
  never a field per header name.
* ``httpRequest.clientIp`` is a keyword (masked values like ``X.X.X.X`` index fine); the ``ip`` is
  ``waflens.client_ip``, which enrichment sets only for valid addresses.
* ``index.mapping.ignore_malformed`` (in the template settings) keeps a document whose number or date
  field holds garbage: the field is not indexed, the value stays in ``_source``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import polars as pl

from enrich import schema as S

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

Mapping = dict[str, object]

NESTED: Final = frozenset({"ruleGroupList", "nonTerminatingMatchingRules", "rateBasedRuleList", "labels"})
NOT_INDEXED: Final = frozenset({S.DOC_ID, S.DOC_INDEX, S.EVENT_ORIGINAL})  # metadata, or the lake's own copy
KEYWORD: Final = {"type": "keyword", "ignore_above": 1024}
_SEARCHABLE: Final = {"type": "keyword", "ignore_above": 4096, "fields": {"text": {"type": "text"}}}
SCALARS: Final = (
    (pl.String, KEYWORD),
    (pl.Int64, {"type": "long"}),
    (pl.Boolean, {"type": "boolean"}),
    (pl.Datetime, {"type": "date"}),
)
OVERRIDES: Final[dict[str, Mapping]] = {
    "timestamp": {"type": "date", "format": "epoch_millis"},
    "httpRequest.uri": _SEARCHABLE,
    "httpRequest.args": _SEARCHABLE,
    "waflens.user_agent": _SEARCHABLE,
    "waflens.client_ip": {"type": "ip"},
}


def _field(path: str, dtype: PolarsDataType) -> Mapping:
    if path in OVERRIDES:
        return dict(OVERRIDES[path])
    if isinstance(dtype, pl.List):
        inner = _field(path, dtype.inner)
        if isinstance(dtype.inner, pl.Struct) and path in NESTED:
            return {"type": "nested", **inner}
        return inner
    if isinstance(dtype, pl.Struct):
        return {"properties": {f.name: _field(f"{path}.{f.name}", f.dtype) for f in dtype.fields}}
    for polars_type, mapping in SCALARS:
        if dtype == polars_type or isinstance(dtype, polars_type):
            return dict(mapping)
    raise TypeError(f"{path}: no mapping for {dtype}")  # a new dtype in the schema needs a decision here


def document_mappings(schema: pl.Schema = S.ENRICHED) -> Mapping:
    """The ``mappings`` of an index holding waflens documents."""
    properties = {name: _field(name, dtype) for name, dtype in schema.items() if name not in NOT_INDEXED}
    return {"dynamic": False, "properties": properties}


def mapped_paths(mappings: Mapping, prefix: str = "") -> set[str]:
    """Every dotted field path the mappings declare (multi-fields included)."""
    paths: set[str] = set()
    properties = mappings.get("properties", {})
    assert isinstance(properties, dict)
    for name, field in properties.items():
        path = f"{prefix}{name}"
        paths.add(path)
        paths |= mapped_paths(field, f"{path}.")
        for sub in field.get("fields", {}):
            paths.add(f"{path}.{sub}")
    return paths
