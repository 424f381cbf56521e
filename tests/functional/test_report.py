"""``waflens report``: the aggregates against numbers DuckDB computes from the same lake, the HTML's
escaping and secrets, and the command line (local and S3 lakes, an empty lake, a bad ``--out``)."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from dashboards.alerts.evaluate import evaluate
from dashboards.alerts.rules import AlertRules
from dashboards.report.aggregate import MAX_ALERTS, OTHER, TOP_K, report_data
from dashboards.report.render import render
from devtools.generate import PLANTED_SECRET_PREFIX
from enrich.ownership import rule_group_name
from ingest.cli.main import main
from ingest.config_file import load_document
from ingest.sinks.lake import scan_lake
from tests.support.moto import Aws
from tests.support.report import CLOSING_UA, CONFIG, HOSTILE, SCRIPT_URI, SECRET, build_lake, lake_sql

RULES = AlertRules.from_mapping(load_document(CONFIG))


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_lake(tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def data(lake: Path) -> dict[str, Any]:
    return report_data(scan_lake(lake, each_id_once=False), rules=RULES)


def _facet(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(f for f in data["facets"] if f["name"] == name)


def _totals(facet: dict[str, Any]) -> dict[str, int]:
    sums: Counter[str] = Counter()
    for k, n in zip(facet["k"], facet["n"], strict=True):
        sums[facet["keys"][k]] += n
    return dict(sums)


def _top(rows: list[tuple[object, ...]]) -> dict[str, int]:
    """The TOP_K most frequent keys (ties by key), the rest summed as OTHER, from (key, count) rows."""
    ranked = sorted(((str(k), int(str(n))) for k, n in rows), key=lambda kn: (-kn[1], kn[0]))
    top = dict(ranked[:TOP_K])
    rest = sum(n for _, n in ranked[TOP_K:])
    return {**top, OTHER: rest} if rest else top


def test_totals_and_actions_count_each_event_once(lake: Path, data: dict[str, Any]) -> None:
    files = lake_sql(lake, "SELECT count(*) FROM read_parquet('" + str(lake / "**" / "*.parquet") + "')")
    by_action = dict(lake_sql(lake, "SELECT action, count(*) FROM events GROUP BY action"))
    assert files[0][0] > sum(by_action.values())  # the lake holds events twice ...
    assert data["events"] == sum(by_action.values())  # ... and the report counts them once
    series = data["series"]
    counted: Counter[str] = Counter()
    for a, n in zip(series["a"], series["n"], strict=True):
        counted[data["actions"][a]] += n
    assert dict(counted) == by_action


@pytest.mark.parametrize(
    ("facet", "sql"),
    [
        ("client_ips", "waflens.client_ip"),
        ("countries", 'coalesce(waflens.geo.country, "httpRequest".country)'),
        ("user_agents", "waflens.user_agent"),
        ("ja3", '"ja3Fingerprint"'),
        ("ja4", '"ja4Fingerprint"'),
    ],
)
def test_top_lists_over_all_requests_match_the_lake(
    lake: Path, data: dict[str, Any], facet: str, sql: str
) -> None:
    rows = lake_sql(lake, f"SELECT {sql} AS k, count(*) FROM events WHERE k IS NOT NULL GROUP BY k")
    assert _totals(_facet(data, facet)) == _top(rows)


def test_uris_are_paths_without_query_strings(lake: Path, data: dict[str, Any]) -> None:
    path = "regexp_replace(\"httpRequest\".uri, '[?;#].*$', '')"
    rows = lake_sql(lake, f"SELECT {path} AS k, count(*) FROM events WHERE k IS NOT NULL GROUP BY k")
    uris = _totals(_facet(data, "uris"))
    assert uris == _top(rows)
    assert uris[SCRIPT_URI] == HOSTILE  # with and without its query string: one path


@pytest.mark.parametrize(
    ("facet", "sql"),
    [
        ("owner_teams", "waflens.terminating.owner.team"),
        ("account_teams", "waflens.account.team"),
        ("environments", "waflens.account.environment"),
        ("cost_centres", "waflens.account.cost_centre"),
    ],
)
def test_blocked_by_team_and_account_tags_match_the_lake(
    lake: Path, data: dict[str, Any], facet: str, sql: str
) -> None:
    rows = lake_sql(
        lake, f"SELECT {sql} AS k, count(*) FROM events WHERE action = 'BLOCK' AND k IS NOT NULL GROUP BY k"
    )
    assert rows, "the lake has blocked requests with this tag"
    assert _totals(_facet(data, facet)) == _top(rows)


def test_terminating_rules_carry_their_owner(lake: Path, data: dict[str, Any]) -> None:
    rows = lake_sql(
        lake,
        """SELECT CASE WHEN waflens.terminating.group_rule_id IS NULL THEN "terminatingRuleId"
                  ELSE waflens.terminating.rule_group_name || ' / ' || waflens.terminating.group_rule_id
                  END AS k,
                  any_value(waflens.terminating.owner.team), any_value(waflens.terminating.owner.layer),
                  any_value(waflens.terminating.owner.oncall), count(*)
           FROM events WHERE "terminatingRuleId" <> 'Default_Action' GROUP BY k""",
    )
    rules = _facet(data, "rules")
    assert _totals(rules) == _top([(k, n) for k, *_, n in rows])
    owners = {str(k): (team, layer, oncall) for k, team, layer, oncall, _ in rows}
    for i, key in enumerate(rules["keys"][:-1]):
        labels = (rules["labels"]["team"][i], rules["labels"]["layer"][i], rules["labels"]["oncall"][i])
        assert labels == owners[key]
    sqli = [k for k in rules["keys"] if k.startswith("AWSManagedRulesSQLiRuleSet / ")]
    assert sqli, "a managed rule group's rule is named inside its group"
    assert rules["labels"]["team"][rules["keys"].index(sqli[0])] == "security"


def test_count_mode_rules_are_listed_by_rule(lake: Path, data: dict[str, Any]) -> None:
    events = scan_lake(lake).select("nonTerminatingMatchingRules", "ruleGroupList").collect().to_dicts()
    expected: Counter[str] = Counter()
    for event in events:  # a plain loop over a few thousand events: independent of the Polars version
        rules = {r["ruleId"] for r in event["nonTerminatingMatchingRules"] or [] if r["action"] == "COUNT"}
        for group in event["ruleGroupList"] or []:
            name = pl.select(rule_group_name(pl.lit(group["ruleGroupId"]))).item()
            inside = [
                r["ruleId"] for r in group["nonTerminatingMatchingRules"] or [] if r["action"] == "COUNT"
            ]
            inside += [r["ruleId"] for r in group["excludedRules"] or []]
            rules |= {f"{name} / {rule}" for rule in inside}
        expected.update(rules)
    assert expected, "the generated lake has COUNT-mode matches"
    assert _totals(_facet(data, "counted")) == _top(list(expected.items()))


def test_every_list_sums_to_its_cell_total_per_bucket_and_web_acl(data: dict[str, Any]) -> None:
    """A selection's "other" row makes each list add up to the requests of that selection."""
    ratio = data["grid"]["ratio"]
    requests: Counter[tuple[int, int]] = Counter()
    series = data["series"]
    for b, w, n in zip(series["b"], series["w"], series["n"], strict=True):
        requests[(b // ratio, w)] += n
    facet = _facet(data, "uris")
    cells: Counter[tuple[int, int]] = Counter()
    for c, w, n in zip(facet["c"], facet["w"], facet["n"], strict=True):
        cells[(c, w)] += n
    assert cells == requests


def test_a_time_range_counts_only_its_events(lake: Path) -> None:
    since, until = datetime(2026, 1, 6, 3, tzinfo=UTC), datetime(2026, 1, 6, 9, tzinfo=UTC)
    data = report_data(scan_lake(lake, each_id_once=False), rules=RULES, since=since, until=until)
    expected = lake_sql(
        lake,
        "SELECT count(*) FROM events WHERE \"@timestamp\" >= TIMESTAMPTZ '2026-01-06 03:00:00+00' "
        "AND \"@timestamp\" < TIMESTAMPTZ '2026-01-06 09:00:00+00'",
    )[0][0]
    assert 0 < data["events"] == expected == sum(data["series"]["n"])
    assert data["grid"]["fine_ms"] * data["grid"]["count"] >= 6 * 3600 * 1000


def test_the_alerts_are_those_the_rules_raise_over_the_range(lake: Path, data: dict[str, Any]) -> None:
    since = datetime.fromtimestamp(data["since_ms"] / 1000, UTC)
    until = datetime.fromtimestamp(data["until_ms"] / 1000, UTC)
    fired = evaluate(scan_lake(lake, each_id_once=False), RULES, since=since, until=until)
    assert data["alerts"]["total"] == fired.height > 0
    newest = fired.sort("window_start", descending=True, maintain_order=True).head(MAX_ALERTS)
    shown = [(a["rule"], a["window_start"]) for a in data["alerts"]["rows"]]
    assert shown == list(zip(newest["rule"], newest["window_start"].dt.epoch("ms"), strict=True))


def test_hostile_markup_stays_inside_the_json_and_secrets_never_reach_the_page(
    lake: Path, data: dict[str, Any]
) -> None:
    lake_requests = scan_lake(lake).select(pl.col("httpRequest").struct.field("uri", "args")).collect()
    hostile = lake_requests.filter(pl.col("uri").str.starts_with(SCRIPT_URI))
    assert hostile.height == HOSTILE
    assert hostile.filter(pl.col("uri").str.contains("?", literal=True))["uri"].unique().to_list() == [
        f"{SCRIPT_URI}?token=REDACTED"
    ]
    assert hostile["args"].str.starts_with("token=REDACTED&").all()  # the lake carries the marker
    page = render(data)
    assert PLANTED_SECRET_PREFIX not in page
    assert SECRET not in orjson.dumps(data).decode()
    assert "<script>alert" not in page
    assert CLOSING_UA not in page
    assert page.count("</script>") == 2  # the data element's and the page script's own
    assert page.count("<script") == 2
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(2)" in page
    payload = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', page, re.S)
    assert payload is not None
    assert CLOSING_UA in _facet(orjson.loads(payload.group(1)), "user_agents")["keys"]


def test_the_command_writes_the_page_and_prints_one_summary_line(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "site" / "report.html"
    code = main(["report", "--lake", str(lake), "--out", str(out), "--config", str(CONFIG)])
    stdout, stderr = capsys.readouterr()
    summary = orjson.loads(stdout.strip().splitlines()[-1])
    assert code == 0
    assert summary["report"] == str(out)
    assert summary["bytes"] == out.stat().st_size
    assert summary["events"] == lake_sql(lake, "SELECT count(*) FROM events")[0][0]
    page = out.read_text()
    assert not re.search(r"<(link|img|iframe)\b|\b(src|href)=|url\(|@import", page)  # nothing to fetch
    assert PLANTED_SECRET_PREFIX not in stdout + stderr + out.read_text()


def test_relative_times_narrow_the_report(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.html"
    assert main(["report", "--lake", str(lake), "--out", str(out), "--since", "2026-01-06T00:00Z"]) == 0
    summary = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    expected = lake_sql(
        lake, "SELECT count(*) FROM events WHERE \"@timestamp\" >= TIMESTAMPTZ '2026-01-06 00:00:00+00'"
    )
    assert summary["events"] == expected[0][0]
    assert summary["since"] == "2026-01-06T00:00:00+00:00"


def test_an_empty_lake_gives_an_empty_report_and_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "lake").mkdir()
    out = tmp_path / "r.html"
    assert main(["report", "--lake", str(tmp_path / "lake"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert orjson.loads(captured.out.strip())["events"] == 0
    assert "holds no Parquet files" in captured.err
    assert out.stat().st_size > 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--lake", "/nonexistent/lake", "--out", "{out}"], "is not a folder"),
        (
            ["--lake", "{lake}", "--out", "{out}", "--since", "2026-01-02T00:00Z", "--until", "2026-01-01"],
            "--since must be before --until",
        ),
        (["--lake", "{lake}", "--out", "/proc/waflens/r.html"], "--out /proc/waflens: cannot write there"),
    ],
)
def test_mistakes_are_usage_errors_before_any_work(
    lake: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    out = tmp_path / "r.html"
    code = main(["report", *(a.format(lake=lake, out=out) for a in argv)])
    assert code == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_a_lake_on_s3_reads_as_a_local_one(
    lake: Path, data: dict[str, Any], aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="report-lake")
    for path in lake.rglob("*.parquet"):
        s3.put_object(
            Bucket="report-lake", Key=f"waf/{path.relative_to(lake).as_posix()}", Body=path.read_bytes()
        )
    out = tmp_path / "s3.html"
    assert main(["report", "--lake", "s3://report-lake/waf", "--out", str(out)]) == 0
    summary = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["events"] == data["events"]
    assert (summary["since"], summary["until"]) == (
        datetime.fromtimestamp(data["since_ms"] / 1000, UTC).isoformat(),
        (datetime.fromtimestamp(data["until_ms"] / 1000, UTC)).isoformat(),
    )
    assert timedelta(0) < datetime.fromisoformat(summary["until"]) - datetime.fromisoformat(summary["since"])
