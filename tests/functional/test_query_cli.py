"""``waflens query`` and ``waflens explain`` end to end: the shared samples plus generated and planted
records, ingested by ``waflens ingest`` into a lake and into the loopback OpenSearch. Each filter's
result is checked against the lake read back with pyarrow and filtered in plain Python, and the
same filters over OpenSearch return the same events in the same order."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from devtools.fake_opensearch import FakeOpenSearch
from devtools.generate import PLANTED_SECRET_PREFIX, iter_records
from ingest.cli.main import main
from ingest.cli.query import EXIT_NOT_FOUND
from tests.support.samples import NDJSON_COUNTS, sample

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "examples" / "waflens.toml")
SECRET = f"{PLANTED_SECRET_PREFIX}query-cli-0123456789"
PLANTED_ACCOUNT = "012345678901"  # a leading zero must survive the lake's account partition
PLANTED_IPS = ("2001:db8:0:0:0:0:0:7", "::ffff:198.51.100.7", "198.51.100.8", "2001:DB8::1:9")
Row = dict[str, Any]


@dataclass(frozen=True)
class Corpus:
    lake: Path
    opensearch: str
    rows: list[Row]  # every event once, read back from the lake's files with pyarrow


def _planted(template: bytes) -> list[bytes]:
    """Requests to a web ACL in account 012345678901, each carrying a bearer token, a token query
    argument and a session cookie, from addresses spelled in several ways."""
    records = []
    for i, ip in enumerate(PLANTED_IPS):
        record = orjson.loads(template)
        record["webaclId"] = f"arn:aws:wafv2:eu-west-1:{PLANTED_ACCOUNT}:regional/webacl/planted-acl/{i:08d}"
        record["timestamp"] = 1767700800000 + i * 1000  # 2026-01-06T12:00:00Z on
        request = record["httpRequest"]
        request["clientIp"] = ip
        request["requestId"] = f"planted-{i}"
        request["uri"] = "/login"
        request["args"] = f"token={SECRET}&page={i}"
        request["headers"] = [
            {"name": "Authorization", "value": f"Bearer {SECRET}"},
            {"name": "Cookie", "value": f"session={SECRET}"},
            {"name": "User-Agent", "value": "curl/8.5.0"},
        ]
        records.append(orjson.dumps(record))
    return records


def _lake_rows(lake: Path) -> list[Row]:
    rows: dict[str, Row] = {}
    for path in sorted(lake.rglob("*.parquet")):
        for row in pq.read_table(path).to_pylist():
            rows.setdefault(row["_id"], row)
    return list(rows.values())


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Corpus]:
    folder = tmp_path_factory.mktemp("query")
    generated = list(iter_records(3000, seed=11))
    logs = folder / "waf.log"
    logs.write_bytes(b"\n".join([*generated, *_planted(generated[0])]) + b"\n")
    inputs = [str(logs), *(str(sample(name)) for name in NDJSON_COUNTS)]
    lake = folder / "lake"
    assert main(["ingest", *inputs, "--lake", str(lake), "--config", CONFIG]) == 0
    with FakeOpenSearch() as server:
        assert main(["ingest", *inputs, "--opensearch", server.url, "--config", CONFIG]) == 0
        yield Corpus(lake, server.url, _lake_rows(lake))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def _ids(corpus: Corpus, backend: str, argv: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    source = ["--lake", str(corpus.lake)] if backend == "lake" else ["--opensearch", corpus.opensearch]
    code, out, err = _run(["query", *source, *argv, "--format", "json", "--limit", "100000"], capsys)
    assert code == 0, err
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert orjson.loads(err.splitlines()[-1]) == {"events": len(lines), "truncated": False, "limit": 100000}
    return [str(line["_id"]) for line in lines]


# -- the independent computation: plain Python over the rows pyarrow read -----------------------------


def _waflens(row: Row, *path: str) -> Any:
    value: Any = row["waflens"]
    for name in path:
        value = None if value is None else value.get(name)
    return value


def _in_block(block: str) -> Callable[[Row], bool]:
    net = ipaddress.ip_network(block)

    def admitted(row: Row) -> bool:
        ip = _waflens(row, "client_ip")
        if ip is None:
            return False
        address = ipaddress.ip_address(ip)
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        return address.version == net.version and address in net

    return admitted


def _rule(rule: str) -> Callable[[Row], bool]:
    return lambda r: r["terminatingRuleId"] == rule or rule in (_waflens(r, "rule_ids") or [])


def _text(needle: str) -> Callable[[Row], bool]:
    def admitted(row: Row) -> bool:
        places = (row["httpRequest"]["uri"], row["httpRequest"]["args"], _waflens(row, "user_agent"))
        return any(p is not None and needle.lower() in p.lower() for p in places)

    return admitted


def _ms(iso: str) -> int:
    from datetime import datetime  # noqa: PLC0415

    return int(datetime.fromisoformat(iso).timestamp() * 1000)


CASES: dict[str, tuple[list[str], Callable[[Row], bool]]] = {
    "ip": (["--ip", "198.51.100.8"], _in_block("198.51.100.8/32")),
    "cidr-v4": (["--ip", "198.51.100.0/24"], _in_block("198.51.100.0/24")),
    "cidr-v4-wide": (["--ip", "72.21.0.0/16"], _in_block("72.21.0.0/16")),
    "cidr-v6": (["--ip", "2001:db8::/32"], _in_block("2001:db8::/32")),
    "cidr-v6-generated": (["--ip", "2406:da14::/32"], _in_block("2406:da14::/32")),
    "rule-terminating": (
        ["--rule", "AWS-AWSManagedRulesSQLiRuleSet"],
        _rule("AWS-AWSManagedRulesSQLiRuleSet"),
    ),
    "rule-in-group": (["--rule", "deny-bulk-export"], _rule("deny-bulk-export")),
    "rule-counted": (["--rule", "RuleB-SQLi"], _rule("RuleB-SQLi")),
    "request-id": (["--request-id", "rid"], lambda r: r["httpRequest"]["requestId"] == "rid"),
    "action": (["--action", "BLOCK"], lambda r: r["action"] == "BLOCK"),
    "actions": (
        ["--action", "captcha", "--action", "CHALLENGE"],
        lambda r: r["action"] in ("CAPTCHA", "CHALLENGE"),
    ),
    "web-acl": (
        ["--web-acl", "search-api_prod"],
        lambda r: _waflens(r, "webacl", "name") == "search-api_prod",
    ),
    "account-leading-zero": (
        ["--account", PLANTED_ACCOUNT],
        lambda r: _waflens(r, "webacl", "account_id") == PLANTED_ACCOUNT,
    ),
    "account": (
        ["--account", "222222222222"],
        lambda r: _waflens(r, "webacl", "account_id") == "222222222222",
    ),
    "team-of-account": (
        ["--team", "search"],
        lambda r: "search" in (_waflens(r, "account", "team"), _waflens(r, "terminating", "owner", "team")),
    ),
    "team-of-owner": (
        ["--team", "search-eng"],
        lambda r: (
            "search-eng" in (_waflens(r, "account", "team"), _waflens(r, "terminating", "owner", "team"))
        ),
    ),
    "time": (
        ["--since", "2026-01-06T11:00Z", "--until", "2026-01-06T12:00:02Z"],
        lambda r: _ms("2026-01-06T11:00+00:00") <= r["timestamp"] < _ms("2026-01-06T12:00:02+00:00"),
    ),
    "text-case": (["--text", "select"], _text("select")),
    "text-percent": (["--text", "%60TEST%60"], _text("%60test%60")),
    "text-user-agent": (["--text", "CURL/8"], _text("curl/8")),
    "combined": (
        ["--action", "BLOCK", "--team", "security", "--since", "2026-01-05T00:00Z"],
        lambda r: (
            r["action"] == "BLOCK"
            and "security" in (_waflens(r, "account", "team"), _waflens(r, "terminating", "owner", "team"))
            and r["timestamp"] >= _ms("2026-01-05T00:00+00:00")
        ),
    ),
}


@pytest.mark.parametrize("case", CASES, ids=CASES.keys())
def test_each_filter_finds_what_plain_python_finds_newest_first_on_both_backends(
    corpus: Corpus, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, admitted = CASES[case]
    expected = [
        r["_id"] for r in sorted(filter(admitted, corpus.rows), key=lambda r: (-r["timestamp"], r["_id"]))
    ]

    from_lake = _ids(corpus, "lake", argv, capsys)
    from_opensearch = _ids(corpus, "opensearch", argv, capsys)

    assert expected, f"{case}: the corpus holds no event for this filter, so the test could not fail"
    assert from_lake == expected
    assert from_opensearch == expected


def test_the_limit_keeps_the_newest_and_says_more_matched(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    newest = sorted(corpus.rows, key=lambda r: (-r["timestamp"], r["_id"]))[:1200]
    for source in (["--lake", str(corpus.lake)], ["--opensearch", corpus.opensearch]):
        code, out, err = _run(["query", *source, "--format", "json", "--limit", "1200"], capsys)
        assert code == 0
        assert [orjson.loads(line)["_id"] for line in out.splitlines()] == [r["_id"] for r in newest]
        assert orjson.loads(err.splitlines()[-1]) == {"events": 1200, "truncated": True, "limit": 1200}


def test_json_lines_are_the_raw_event_plus_its_enrichment(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    row = next(r for r in corpus.rows if r["httpRequest"]["requestId"] == "planted-2")
    for source in (["--lake", str(corpus.lake)], ["--opensearch", corpus.opensearch]):
        code, out, _ = _run(["query", *source, "--request-id", "planted-2", "--format", "json"], capsys)
        assert code == 0
        [event] = [orjson.loads(line) for line in out.splitlines()]
        original = orjson.loads(row["event_original"])
        assert {k: event[k] for k in original} == original
        assert event["_id"] == row["_id"]
        assert event["waflens"]["webacl"]["account_id"] == PLANTED_ACCOUNT
        assert event["waflens"]["client_ip"] == "198.51.100.8"
        assert event["@timestamp"] == "2026-01-06T12:00:02.000Z"


def test_table_and_csv_show_the_responder_columns(corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--request-id", "1-61b20a3f-64070a154c5fd6b37cec5df7"]
    outputs = {}
    for name, source in (
        ("lake", ["--lake", str(corpus.lake)]),
        ("opensearch", ["--opensearch", corpus.opensearch]),
    ):
        for output in ("table", "csv"):
            code, out, _ = _run(["query", *source, *argv, "--format", output], capsys)
            assert code == 0
            outputs[name, output] = out
    header, *lines = outputs["lake", "csv"].splitlines()
    assert header == "time,action,client_ip,country,method,host,uri,terminating_rule,owner_team,request_id"
    assert len(lines) == 2  # the published sample logs the request twice
    for line in lines:
        assert line.split(",")[1] == "BLOCK"
        assert line.split(",")[7:] == [
            "managed_sqli_ruleset/SQLi_URIPATH",
            "security",
            "1-61b20a3f-64070a154c5fd6b37cec5df7",
        ]
    assert outputs["lake", "csv"] == outputs["opensearch", "csv"]
    assert outputs["lake", "table"] == outputs["opensearch", "table"]
    assert "| managed_sqli_ruleset/SQLi_URIPATH |" in outputs["lake", "table"]


@pytest.mark.parametrize("backend", ["lake", "opensearch"])
def test_no_planted_secret_reaches_any_output(
    corpus: Corpus, backend: str, capsys: pytest.CaptureFixture[str]
) -> None:
    source = ["--lake", str(corpus.lake)] if backend == "lake" else ["--opensearch", corpus.opensearch]
    written = []
    for output in ("table", "json", "csv"):
        written.append(_run(["query", *source, "--format", output, "--limit", "100000"], capsys))
        written.append(_run(["query", *source, "--text", "token", "--format", output], capsys))
    for request_id in ("planted-0", "planted-1"):
        for output in ("text", "json"):
            written.append(_run(["explain", request_id, *source, "--format", output], capsys))
    text = "".join(out + err for _, out, err in written)
    assert all(code == 0 for code, _, _ in written)
    assert "planted-1" in text  # the planted events are there...
    assert "/login" in text
    assert PLANTED_SECRET_PREFIX not in text  # ...without what they carried


def _explain(corpus: Corpus, request_id: str, capsys: pytest.CaptureFixture[str]) -> tuple[str, list[Any]]:
    pages = {}
    for name, source in (
        ("lake", ["--lake", str(corpus.lake)]),
        ("opensearch", ["--opensearch", corpus.opensearch]),
    ):
        code, text, _ = _run(["explain", request_id, *source], capsys)
        assert code == 0
        code, out, _ = _run(["explain", request_id, *source, "--format", "json"], capsys)
        assert code == 0
        pages[name] = (text, [orjson.loads(line) for line in out.splitlines()])
    assert pages["lake"] == pages["opensearch"]
    return pages["lake"]


def test_explain_names_the_managed_rule_group_its_rule_and_its_owner(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    text, pages = _explain(corpus, "1-61b20a3f-64070a154c5fd6b37cec5df7", capsys)  # spryker-docs sample
    assert len(pages) == 2  # logged twice
    assert pages[0]["terminating"] == pages[1]["terminating"]
    terminating = pages[0]["terminating"]
    assert terminating["rule_id"] == "managed_sqli_ruleset"
    assert terminating["rule_group"] == {
        "id": "AWS#AWSManagedRulesSQLiRuleSet",
        "name": "AWSManagedRulesSQLiRuleSet",
        "managed": True,
        "vendor": "AWS",
        "version": None,
    }
    assert terminating["rule"] == "SQLi_URIPATH"
    assert terminating["owner"] == {"team": "security", "layer": "last", "oncall": "secops@example.com"}
    assert "Why: rule SQLi_URIPATH in rule group AWSManagedRulesSQLiRuleSet (managed by AWS" in text
    assert "Owner: security, layer last; on-call secops@example.com" in text


def test_explain_through_a_firewall_manager_rule_names_the_inner_group(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    _, [page] = _explain(corpus, "f4umcGG7IAMFTYQ=", capsys)  # onug-csnf-doc sample
    terminating = page["terminating"]
    assert terminating["rule_id"].startswith("PREFMManaged")
    assert terminating["rule_group"]["name"] == "AWSManagedRulesCommonRuleSet"
    assert terminating["rule"] == "GenericRFI_URIPATH"
    assert terminating["owner"]["team"] == "security"


def test_explain_lists_counted_and_excluded_rules(corpus: Corpus, capsys: pytest.CaptureFixture[str]) -> None:
    text, [page] = _explain(corpus, "1-66c4c812-09a4093421d49fca0ec8565f", capsys)  # sekoia sample
    assert page["action"] == "ALLOW"
    assert page["terminating"]["default_action"] is True
    assert [(c["rule_id"], c["rule_group"]) for c in page["counted"]] == [
        ("HostingProviderIPList", "AWS#AWSManagedRulesAnonymousIpList")
    ]
    assert [e["rule_id"] for e in page["excluded"]] == ["root-url"]
    assert "Why: no rule terminated; the web ACL's default action is ALLOW." in text
    assert "HostingProviderIPList in AWS#AWSManagedRulesAnonymousIpList" in text


def test_explain_shows_every_event_logged_with_the_request_id_and_own_rule_groups(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    text, pages = _explain(corpus, "rid", capsys)  # the AWS documentation examples reuse "rid"
    expected = sum(1 for r in corpus.rows if r["httpRequest"]["requestId"] == "rid")
    assert len(pages) == expected >= 3
    assert text.count("\n---\n") == expected - 1
    grouped = next(p for p in pages if p["terminating"]["rule_id"] == "RG-Reference")
    assert grouped["terminating"]["rule_group"]["name"] == "hello-world"
    assert grouped["terminating"]["rule_group"]["managed"] is False
    assert grouped["terminating"]["rule"] == "RuleA-XSS"
    assert grouped["terminating"]["owner"] == {"team": "unowned", "layer": "unassigned", "oncall": None}
    assert [c["rule_id"] for c in grouped["counted"]] == ["RuleB-SQLi"]


def test_an_unknown_request_id_exits_5_on_both_backends(
    corpus: Corpus, capsys: pytest.CaptureFixture[str]
) -> None:
    for source in (["--lake", str(corpus.lake)], ["--opensearch", corpus.opensearch]):
        code, out, err = _run(["explain", "no-such-request", *source], capsys)
        assert (code, out) == (EXIT_NOT_FOUND, "")
        assert "waflens: no event has request id 'no-such-request'" in err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--ip", "10.0.0.0/40"], "waflens: --ip '10.0.0.0/40' is not an IP address or CIDR block"),
        (["--since", "yesterday"], "waflens: --since 'yesterday' is not an ISO 8601 time"),
        (["--since", "2h", "--until", "3h"], "waflens: --since must be before --until"),
        (["--account", "12345"], "waflens: --account '12345' is not a 12-digit AWS account id"),
        (["--limit", "0"], "waflens: --limit must be between 1 and 100000"),
        (
            ["--opensearch", "http://127.0.0.1:9"],
            "waflens: query needs exactly one of --lake DIR or --opensearch URL",
        ),
    ],
)
def test_mistakes_exit_2_with_one_sentence(
    corpus: Corpus, argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(["query", "--lake", str(corpus.lake), *argv], capsys)
    assert (code, out) == (2, "")
    assert err.startswith(message)
    assert err.count("\n") == 1


def test_a_missing_source_is_a_usage_error_and_an_unreachable_cluster_a_retry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(["query"], capsys)[0] == 2
    code, _, err = _run(["query", "--lake", str(tmp_path / "missing")], capsys)
    assert code == 2
    assert "is not a folder" in err
    code, out, err = _run(["query", "--opensearch", "http://127.0.0.1:9", "--timeout", "2"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith("waflens: the search on http://127.0.0.1:9 failed: ConnectionError")


def test_an_empty_lake_finds_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(["query", "--lake", str(tmp_path)], capsys)
    assert (code, out) == (0, "")
    assert orjson.loads(err) == {"events": 0, "truncated": False, "limit": 100}
