"""Document-level security queries evaluated on enriched frames, to test what a role's DLS selects.

Only what waflens roles use is translated: ``bool`` with ``should`` (and ``minimum_should_match: 1``),
``term`` and ``terms`` on scalar fields addressed by dotted path (``waflens.account.id`` is the struct
field ``account.id`` of the ``waflens`` column). Anything else fails loudly instead of matching wrongly.
As on the cluster, a clause on a missing (null) value does not match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import polars as pl


def field(path: str) -> pl.Expr:
    """The column of a dotted document path, following struct fields."""
    head, *rest = path.split(".")
    expr = pl.col(head)
    for name in rest:
        expr = expr.struct.field(name)
    return expr


def dls_filter(dls: str | Mapping[str, Any]) -> pl.Expr:
    """A boolean expression true for the rows the query (or its JSON string) matches."""
    query = json.loads(dls) if isinstance(dls, str) else dls
    assert len(query) == 1, f"one query type per clause, got {sorted(query)}"
    kind, body = next(iter(query.items()))
    if kind == "bool":
        assert set(body) <= {"should", "minimum_should_match"}, f"unsupported bool keys {sorted(body)}"
        assert body.get("minimum_should_match", 1) == 1
        clauses = [dls_filter(clause) for clause in body["should"]]
        assert clauses, "a bool with no should clause"
        return pl.any_horizontal(clauses)
    assert isinstance(body, Mapping), f"{kind} takes an object"
    assert len(body) == 1, f"{kind} takes exactly one field"
    path, value = next(iter(body.items()))
    if kind == "term":
        assert isinstance(value, str | int | bool), "term takes one scalar value"
        return (field(path) == value).fill_null(False)
    if kind == "terms":
        assert isinstance(value, list), "terms takes a list of values"
        return field(path).is_in(value).fill_null(False)
    raise AssertionError(f"query type {kind!r} is not translated")
