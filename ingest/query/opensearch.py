"""The filter model as an OpenSearch query DSL body, and the paged search that runs it.

Every clause is a ``bool.filter`` (no scoring, cacheable) on fields the index template maps
(``dashboards.mappings``): keywords take ``term``/``terms``, ``waflens.client_ip`` is an ``ip`` whose
``term`` takes a CIDR block, ``@timestamp`` a ``range``, and the text search a case-insensitive
``wildcard`` on the keyword fields, the same substring semantics as the lake (a ``match_phrase`` on the
``.text`` sub-fields would match words, not substrings).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

import orjson
import polars as pl

from enrich import schema as S
from ingest.query.filters import Filters, milliseconds
from ingest.query.hits import DOCUMENT, Found

Body = dict[str, Any]  # a JSON request body; the DSL is a tree of JSON objects
PAGE: Final = 1000  # hits per request; larger limits page on with search_after
TEXT_FIELDS: Final = ("httpRequest.uri", "httpRequest.args", "waflens.user_agent")
# Newest first; _id breaks ties so pages never overlap (sorting on it loads _id fielddata on the cluster).
SORT: Final = ({S.TIMESTAMP: {"order": "desc"}}, {S.DOC_ID: {"order": "asc"}})


def _wildcard_literal(text: str) -> str:
    """``text`` with the wildcard syntax's own characters escaped, so it matches only itself."""
    return "".join(f"\\{c}" if c in "\\*?" else c for c in text)


def _any_of(*clauses: Body) -> Body:
    return {"bool": {"should": list(clauses), "minimum_should_match": 1}}


def _time(value: datetime) -> str:
    """``value`` in UTC to the millisecond, as ``@timestamp`` is stored."""
    return milliseconds(value).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def query(filters: Filters) -> Body:
    """The ``query`` of the search: one ``bool.filter`` clause per set filter (``match_all`` for none)."""
    f = filters
    clauses: list[Body] = []
    if f.ip is not None:
        clauses.append({"term": {"waflens.client_ip": str(f.ip)}})
    if f.rule is not None:
        clauses.append(
            _any_of({"term": {"terminatingRuleId": f.rule}}, {"term": {"waflens.rule_ids": f.rule}})
        )
    if f.request_id is not None:
        clauses.append({"term": {"httpRequest.requestId": f.request_id}})
    if f.actions:
        clauses.append({"terms": {"action": list(f.actions)}})
    if f.web_acl is not None:
        clauses.append({"term": {"waflens.webacl.name": f.web_acl}})
    if f.account is not None:
        clauses.append({"term": {"waflens.webacl.account_id": f.account}})
    if f.team is not None:
        clauses.append(
            _any_of(
                {"term": {"waflens.account.team": f.team}},
                {"term": {"waflens.terminating.owner.team": f.team}},
            )
        )
    if f.since is not None or f.until is not None:
        bounds: Body = {"format": "strict_date_optional_time"}
        if f.since is not None:
            bounds["gte"] = _time(f.since)
        if f.until is not None:
            bounds["lt"] = _time(f.until)
        clauses.append({"range": {S.TIMESTAMP: bounds}})
    if f.text is not None:
        pattern = f"*{_wildcard_literal(f.text)}*"
        clauses.append(
            _any_of(
                *(
                    {"wildcard": {field: {"value": pattern, "case_insensitive": True}}}
                    for field in TEXT_FIELDS
                )
            )
        )
    return {"bool": {"filter": clauses}} if clauses else {"match_all": {}}


def search_body(filters: Filters, *, size: int, search_after: list[Any] | None = None) -> Body:
    """One page of the search: ``size`` hits, newest first, after the hit whose sort values are given."""
    body: Body = {"query": query(filters), "sort": list(SORT), "size": size, "track_total_hits": False}
    if search_after is not None:
        body["search_after"] = search_after
    return body


def search_opensearch(client: Any, index: str, filters: Filters, *, limit: int) -> Found:
    """The newest ``limit`` events of ``index`` (a name or pattern) that ``filters`` admits.

    ``client`` is an opensearch-py client; a page is at most ``PAGE`` hits, the next one starts
    ``search_after`` the last hit's sort values, and one hit past ``limit`` says whether more matched.
    """
    ids: list[str] = []
    documents: list[str] = []
    after: list[Any] | None = None
    wanted = limit + 1
    while len(ids) < wanted:
        size = min(PAGE, wanted - len(ids))
        reply = client.search(
            index=index, body=search_body(filters, size=size, search_after=after), ignore_unavailable=True
        )
        page = reply["hits"]["hits"]
        ids += [str(hit["_id"]) for hit in page]
        documents += [orjson.dumps(hit["_source"]).decode() for hit in page]
        if len(page) < size:
            break
        after = page[-1]["sort"]
    hits = pl.DataFrame(
        {S.DOC_ID: ids[:limit], DOCUMENT: documents[:limit]},
        schema={S.DOC_ID: pl.String, DOCUMENT: pl.String},
    )
    return Found(hits=hits, truncated=len(ids) > limit)
