"""The lean per-record ingester ``waflens-dev bench`` holds the vectorized path to.

What a competent engineer writes instead of waflens, one record at a time on one core: ``orjson.loads``,
the header values of the known sensitive names replaced (no query arguments, match details, cookies or
strings), every look-up cached by its key (web ACL ARN, account, terminating rule group, user agent, host,
client IP, OWASP value), the pipeline's document id of the record's bytes (``record_id``), and
``orjson.dumps`` of the action and the document. Its ``waflens`` objects, ``@timestamp``, index and id are
the heavy reference's (``tests/unit/test_bench_lean.py`` holds them equal on generated records); only its
redaction is lighter, which is the point: it is the fastest honest per-record path, not a copy of the
policy walk.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Final, TypeVar

import orjson

from devtools.bench_process import BENCH_CONFIG, lines
from devtools.bench_reference import Reference, _dict, _list, _unique
from enrich.config import EnrichConfig
from enrich.redact import normalize_name
from enrich.useragent import BOT_LABEL, MAX_PARSED_CHARS, parse_user_agent
from ingest.decode.records import record_id

T = TypeVar("T")
_CACHE: Final = 8192

_DAY_MS: Final = 86_400_000
_UA_FIELDS: Final = ("browser", "browser_version", "os", "device")


def _cached(function: Callable[..., T]) -> Callable[..., T]:
    return lru_cache(maxsize=_CACHE)(function)


class LeanIngester:
    """Bulk lines for one record at a time, the per-record way, with every look-up cached."""

    def __init__(self, config: EnrichConfig) -> None:
        self.reference = Reference(config)  # the enrichment's rules, written per record
        self.prefix = config.index_prefix
        self.sensitive = self.reference.redaction.header_names
        self.marker = self.reference.redaction.marker
        self.webacl = _cached(self.reference.webacl)
        self.account = _cached(self.reference.account)
        self.owner = _cached(self.reference.owner)
        self.domain = _cached(self.reference.domain)
        self.client_ip = _cached(self.reference.client_ip)
        self.reference.owner = _cached(self.reference.owner)  # type: ignore[method-assign]
        self.parse_user_agent = _cached(lambda value: dict(parse_user_agent(value[:MAX_PARSED_CHARS])))
        self.normalized = _cached(normalize_name)
        self.days: dict[int, tuple[str, str]] = {}

    def bulk_lines(self, line: bytes) -> bytes:
        """The action line and the document line for one WAF record."""
        text = line.strip()
        record = orjson.loads(text)
        doc_id = record_id(text)
        request = _dict(record.get("httpRequest"))
        headers = [h for h in _list(request.get("headers")) if isinstance(h, dict)]
        for header in headers:
            name = header.get("name")
            if (
                isinstance(name, str)
                and self.normalized(name) in self.sensitive
                and header.get("value") is not None
            ):
                header["value"] = self.marker
        day, millis = divmod(record["timestamp"], _DAY_MS)
        if day not in self.days:
            midnight = datetime.fromtimestamp(day * 86_400, UTC)
            self.days[day] = (f"{self.prefix}-{midnight:%Y.%m.%d}", f"{midnight:%Y-%m-%d}")
        index, date = self.days[day]
        seconds, ms = divmod(millis, 1000)
        hours, rest = divmod(seconds, 3600)
        record["@timestamp"] = f"{date}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.{ms:03d}Z"
        record["waflens"] = self.enrichment(record, request, headers)
        action = b'{"index":{"_index":"' + index.encode() + b'","_id":"' + doc_id.encode() + b'"}}\n'
        return action + orjson.dumps(record) + b"\n"

    def enrichment(
        self, record: dict[str, Any], request: dict[str, Any], headers: list[dict[str, Any]]
    ) -> dict[str, Any]:
        """The ``waflens`` object of one record (the reference's rules, look-ups cached)."""
        ref = self.reference
        names = [h["name"].lower() if isinstance(h.get("name"), str) else None for h in headers]
        groups = [g for g in _list(record.get("ruleGroupList")) if isinstance(g, dict)]
        webacl = self.webacl(record.get("webaclId"))
        rule_ids = ref.rule_ids(record, groups)
        matched = [
            g.get("ruleGroupId")
            for g in groups
            if g.get("terminatingRule") is not None
            or _list(g.get("nonTerminatingMatchingRules"))
            or _list(g.get("excludedRules"))
        ]
        labels = [_dict(label).get("name") for label in _list(record.get("labels"))]
        user_agent = ref.header(headers, names, "user-agent")
        host = request.get("host") if request.get("host") is not None else ref.header(headers, names, "host")
        client_ip = self.client_ip(request.get("clientIp"))
        parsed = self.parse_user_agent(user_agent) if isinstance(user_agent, str) else {}
        bot = bool(parsed.get("spider")) or any(
            isinstance(n, str) and n.startswith(BOT_LABEL) for n in labels
        )
        return {
            "blocked": record.get("action") == "BLOCK",
            "counted": ref.counted(record, groups),
            "webacl": webacl,
            "account": self.account(webacl["account_id"]),
            "terminating": ref.terminating(record, groups),
            "rule_ids": rule_ids,
            "rule_group_ids": matched,
            "counted_rules": ref.counted_rules(record, groups),
            "labels": labels,
            "client_ip": client_ip,
            "user_agent": user_agent,
            "host": host,
            "header_names": list(dict.fromkeys(names)),
            "redacted_headers": _unique(
                [
                    normalized
                    for n in names
                    if n is not None and (normalized := self.normalized(n)) in ref.redaction.sensitive
                ]
            ),
            "owasp": ref.owasp(record, rule_ids, matched, labels),
            "ua": {**{f: parsed.get(f) for f in _UA_FIELDS}, "bot": bot},
            "domain": self.domain(host) if isinstance(host, str) else None,
            "geo": ref.where(record, request, client_ip),
        }


def ingest_file(source: Path) -> tuple[int, int, int]:
    """Records, documents and bytes of bulk lines of the lean ingester over a gzip NDJSON file.

    One record at a time, as a per-record loader reads an S3 object; the documents are counted from the
    lines written (two per document).
    """
    ingester = LeanIngester(EnrichConfig.from_mapping(BENCH_CONFIG))
    records = out = newlines = 0
    for records, line in enumerate(lines(source), start=1):  # noqa: B007  # records is the count after the loop
        body = ingester.bulk_lines(line)
        out += len(body)
        newlines += body.count(b"\n")
    return records, newlines // 2, out
