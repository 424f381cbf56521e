"""``waflens alerts`` end to end: generated logs with a planted spike, ingested into a lake by
``waflens ingest --lake``, then evaluated with the example config's rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from devtools.generate import PLANTED_SECRET_PREFIX, iter_records
from ingest.cli.alerts import moment
from ingest.cli.main import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "examples" / "waflens.toml")
SPIKE_AT = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
SPIKE_ACL = ("search-api_prod", "222222222222")
SECRET = f"{PLANTED_SECRET_PREFIX}alerts-cli-0123456789"


def _planted(
    template: dict[str, object], count: int, *, start: datetime, step_ms: int, action: str
) -> list[bytes]:
    """``count`` requests to the template's web ACL from ``start``, ``step_ms`` apart, each carrying a
    bearer token, a token query argument and a session cookie."""
    first = int(start.timestamp() * 1000)
    records = []
    for i in range(count):
        record = orjson.loads(orjson.dumps(template))
        request = record["httpRequest"]
        request["headers"] = [
            {"name": "Authorization", "value": f"Bearer {SECRET}"},
            {"name": "Cookie", "value": f"session={SECRET}"},
        ]
        request["args"] = f"token={SECRET}&page={i}"
        request["requestId"] = f"planted-{action}-{i}"
        record.update(timestamp=first + i * step_ms, action=action, terminatingRuleType="REGULAR")
        record.update(
            terminatingRuleId="AWSManagedRulesAntiDDoSRuleSet" if action == "BLOCK" else "Default_Action"
        )
        records.append(orjson.dumps(record))
    return records


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A lake written by ``waflens ingest --lake`` from 6,000 generated records, an hour of steady allowed
    traffic to one web ACL, then 150 blocked requests to it in one window."""
    folder = tmp_path_factory.mktemp("alerts")
    generated = list(iter_records(6000, seed=7))
    template = next(orjson.loads(r) for r in generated if b"/webacl/search-api_prod/" in r)
    logs = folder / "waf.log"
    steady = _planted(template, 240, start=SPIKE_AT - timedelta(hours=1), step_ms=15_000, action="ALLOW")
    spike = _planted(template, 150, start=SPIKE_AT, step_ms=1_000, action="BLOCK")
    logs.write_bytes(b"\n".join([*generated, *steady, *spike]) + b"\n")
    assert main(["ingest", str(logs), "--lake", str(folder / "lake"), "--config", CONFIG]) == 0
    return folder / "lake"


def _alerts(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, object]], str]:
    code = main(["alerts", *argv])
    out, err = capsys.readouterr()
    return code, [orjson.loads(line) for line in out.strip().splitlines()], out + err


def test_the_planted_spike_fires_for_its_web_acl_and_window_routed_to_its_team(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    window = ["--since", "2026-01-06T10:00Z", "--until", "2026-01-06T14:00Z"]
    code, lines, output = _alerts(["--lake", str(lake), "--config", CONFIG, *window], capsys)

    assert code == 0
    *alerts, summary = lines
    spikes = [a for a in alerts if a["rule"] == "blocked-spike"]
    assert [(a["webacl"], a["account_id"], a["window_start"], a["team"], a["channel"]) for a in spikes] == [
        (*SPIKE_ACL, "2026-01-06T12:00:00+00:00", "search", "search-oncall")
    ]
    assert spikes[0]["value"] >= 150  # type: ignore[operator]
    ratio = [(a["webacl"], a["window_start"]) for a in alerts if a["rule"] == "block-ratio-jump"]
    assert ratio == [(SPIKE_ACL[0], "2026-01-06T12:00:00+00:00")]
    assert all(a["value"] > 30 for a in alerts if a["rule"] == "no-logs")  # type: ignore[operator]
    assert summary["alerts"] == len(alerts)
    assert summary["by_rule"]["blocked-spike"] == 1  # type: ignore[index]
    assert summary["rules"] == ["blocked-spike", "block-ratio-jump", "no-logs"]
    assert PLANTED_SECRET_PREFIX not in output  # nothing a request carried reaches the output


def test_before_the_spike_nothing_fires_for_blocked_requests(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = _alerts(
        [
            "--lake",
            str(lake),
            "--config",
            CONFIG,
            "--since",
            "2026-01-06T06:00Z",
            "--until",
            "2026-01-06T11:55Z",
        ],
        capsys,
    )
    assert code == 0
    assert [a for a in lines[:-1] if a["rule"] != "no-logs"] == []


def test_the_table_format_ends_with_the_summary_line(lake: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "alerts",
            "--lake",
            str(lake),
            "--since",
            "2026-01-06T11:00Z",
            "--until",
            "2026-01-06T13:00Z",
            "--format",
            "table",
        ]
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert any("search-api_prod" in line and "blocked-spike" in line for line in out)
    assert orjson.loads(out[-1])["alerts"] >= 1


def test_usage_mistakes_exit_2_with_one_sentence(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["alerts", "--lake", str(tmp_path), "--since", "2026-01-06", "--until", "2026-01-05"]) == 2
    assert "--since must be before --until" in capsys.readouterr().err
    assert main(["alerts", "--lake", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text('[alerts.blocked_spike]\nfloor = "many"\n')
    assert main(["alerts", "--lake", str(tmp_path), "--config", str(bad)]) == 2
    assert "alerts.blocked_spike.floor must be a whole number" in capsys.readouterr().err


def test_an_empty_lake_reports_nothing_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines, _ = _alerts(["--lake", str(tmp_path)], capsys)
    assert code == 0
    assert lines[-1]["alerts"] == 0


def test_times_are_iso_8601_or_spans_before_now() -> None:
    now = datetime(2026, 1, 6, 12, 0, tzinfo=UTC)
    assert moment("2h", "--since", now) == now - timedelta(hours=2)
    assert moment("30m", "--since", now) == now - timedelta(minutes=30)
    assert moment("7d", "--since", now) == now - timedelta(days=7)
    assert moment("2026-01-05T10:00", "--since", now) == datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
