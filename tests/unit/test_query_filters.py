"""The query filter model: its lake expressions agree with ``ipaddress``, its search bodies are
strict-valid and name only mapped fields, the fake's evaluator reads them as OpenSearch does, and each
mistake on the command line is one sentence."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboards.mappings import document_mappings, mapped_paths
from devtools import fake_search
from enrich.config import ConfigError
from ingest.query.filters import Filters, address_range, network
from ingest.query.lake import normalized_ip
from ingest.query.opensearch import TEXT_FIELDS, query, search_body
from tests.support.opensearch_spec import spec_validator

T0 = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
CASES = {
    "ip": Filters(ip=network("203.0.113.9")),
    "cidr-v4": Filters(ip=network("72.21.196.0/24")),
    "cidr-v6": Filters(ip=network("2406:da14::/32")),
    "rule": Filters(rule="AWS-AWSManagedRulesSQLiRuleSet"),
    "request-id": Filters(request_id="1-61b20a3f-64070a154c5fd6b37cec5df7"),
    "actions": Filters(actions=("BLOCK", "CAPTCHA")),
    "web-acl": Filters(web_acl="search-api_prod"),
    "account": Filters(account="012345678901"),
    "team": Filters(team="search"),
    "time": Filters(since=T0, until=T0.replace(hour=14)),
    "text": Filters(text="Select*?\\"),
    "all": Filters(
        ip=network("2001:db8::/32"),
        rule="r",
        request_id="x",
        actions=("ALLOW",),
        web_acl="w",
        account="111111111111",
        team="t",
        since=T0,
        text="a",
    ),
    "none": Filters(),
}
mapped = mapped_paths(document_mappings())


def _fields(node: Any) -> Iterator[str]:
    """The field names a query DSL tree filters on."""
    if isinstance(node, list):
        for item in node:
            yield from _fields(item)
    elif isinstance(node, dict):
        for kind, spec in node.items():
            if kind in ("term", "terms", "range", "wildcard", "match_phrase"):
                yield from spec
            else:
                yield from _fields(spec)


@pytest.mark.parametrize("filters", CASES.values(), ids=CASES.keys())
def test_every_filter_renders_a_strict_valid_body_on_mapped_fields(filters: Filters) -> None:
    first = search_body(filters, size=101)
    after = search_body(filters, size=1000, search_after=[1767700800000, "0123abcd"])
    assert spec_validator().body("search", first) == []
    assert spec_validator().body("search", after) == []
    assert set(_fields(first["query"])) <= mapped
    assert first["sort"] == [{"@timestamp": {"order": "desc"}}, {"_id": {"order": "asc"}}]


def test_the_text_search_escapes_wildcards_and_ignores_case() -> None:
    body = query(Filters(text="Select*?\\"))
    clauses = body["bool"]["filter"][0]["bool"]["should"]
    assert [next(iter(c["wildcard"])) for c in clauses] == list(TEXT_FIELDS)
    assert {c["wildcard"][f]["value"] for c, f in zip(clauses, TEXT_FIELDS, strict=True)} == {
        "*Select\\*\\?\\\\*"
    }
    doc = {"httpRequest": {"uri": "/x/SELECT*?\\/y", "args": ""}}
    assert fake_search.matches(body, doc, "1")
    assert not fake_search.matches(body, {"httpRequest": {"uri": "/x/SELECTab\\", "args": ""}}, "2")


def test_time_bounds_are_milliseconds_in_utc() -> None:
    since = datetime(2026, 1, 6, 12, 0, 0, 123456, tzinfo=UTC)
    bounds = query(Filters(since=since))["bool"]["filter"][0]["range"]["@timestamp"]
    assert bounds == {"format": "strict_date_optional_time", "gte": "2026-01-06T12:00:00.123Z"}


addresses = st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6))


def _as_128(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> int:
    return int(address) + (0xFFFF_0000_0000 if address.version == 4 else 0)


@settings(max_examples=100, deadline=None)
@given(st.lists(addresses, min_size=1, max_size=20))
def test_addresses_normalize_to_their_128_bit_hex_in_any_spelling(
    ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
) -> None:
    spellings = [str(ip) for ip in ips] + [ip.exploded.upper() for ip in ips]
    mapped_v4 = [f"::ffff:{ip}" for ip in ips if ip.version == 4]
    frame = pl.DataFrame({"ip": spellings + mapped_v4})
    got = frame.select(normalized_ip(pl.col("ip"))).to_series().to_list()
    want = [f"{_as_128(ip):032x}" for ip in ips] * 2 + [
        f"{_as_128(ip):032x}" for ip in ips if ip.version == 4
    ]
    assert got == want


@settings(max_examples=100, deadline=None)
@given(addresses, st.integers(0, 128), st.lists(addresses, max_size=10))
def test_cidr_membership_on_the_lake_agrees_with_ipaddress(
    base: ipaddress.IPv4Address | ipaddress.IPv6Address,
    prefix: int,
    others: list[ipaddress.IPv4Address | ipaddress.IPv6Address],
) -> None:
    net = ipaddress.ip_network(f"{base}/{min(prefix, base.max_prefixlen)}", strict=False)
    ips = [base, *others]
    first, last = address_range(net)
    found = (
        pl.DataFrame({"ip": [str(ip) for ip in ips]})
        .select(normalized_ip(pl.col("ip")).is_between(pl.lit(first), pl.lit(last)))
        .to_series()
        .to_list()
    )
    # OpenSearch's ip type: IPv4 lives in ::ffff:0:0/96, so ::/0 holds 0.0.0.0 and 10.0.0.0/8 ::ffff:10.1.2.3
    offset = 0xFFFF_0000_0000 if net.version == 4 else 0
    low, high = int(net.network_address) + offset, int(net.broadcast_address) + offset
    assert found == [low <= _as_128(ip) <= high for ip in ips]
    assert [ip in net for ip in ips if ip.version == net.version] == [
        f for f, ip in zip(found, ips, strict=True) if ip.version == net.version
    ]
    assert [fake_search.matches({"term": {"ip": str(net)}}, {"ip": str(ip)}, "1") for ip in ips] == found


def test_an_ipv4_block_also_holds_the_ipv4_mapped_spelling_as_in_opensearch() -> None:
    net = network("198.51.100.0/24")
    first, last = address_range(net)
    found = pl.select(normalized_ip(pl.lit("::ffff:198.51.100.7")).is_between(pl.lit(first), pl.lit(last)))
    assert found.item() is True
    assert fake_search.matches({"term": {"ip": str(net)}}, {"ip": "::ffff:198.51.100.7"}, "1")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: network("10.0.0.300"), "--ip '10.0.0.300' is not an IP address or CIDR block"),
        (lambda: network("10.0.0.0/33"), "--ip '10.0.0.0/33' is not an IP address or CIDR block"),
        (lambda: Filters(account="12345"), "--account '12345' is not a 12-digit AWS account id"),
        (lambda: Filters(actions=("COUNT",)), "--action 'COUNT' is not one of ALLOW, BLOCK"),
        (lambda: Filters(since=T0, until=T0), "--since must be before --until"),
        (lambda: Filters(text=""), "--text must not be empty"),
    ],
)
def test_each_mistake_is_one_sentence(make: Any, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + message.replace("*", "\\*").replace("?", "\\?")) as caught:
        make()
    assert "\n" not in str(caught.value)


def test_the_fake_refuses_queries_it_cannot_evaluate() -> None:
    with pytest.raises(fake_search.UnsupportedQuery, match="fuzzy"):
        fake_search.matches({"fuzzy": {"uri": "x"}}, {}, "1")
