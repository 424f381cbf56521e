"""The command line contract: a JSON summary as the last stdout line, and exit codes that mean something."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
import polars as pl
import pytest

from devtools.cli import main as dev_main
from ingest.cli.main import main
from tests.support.samples import sample

# the three days the generator spreads its records over (the report of the quick start covers them)
DAYS = {"since": "2026-01-05T00:00:00+00:00", "until": "2026-01-08T00:00:00+00:00"}


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], command: Callable[[list[str]], int] = main
) -> tuple[int, dict[str, object] | None, str]:
    code = command(argv)
    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    return code, (orjson.loads(lines[-1]) if lines else None), err


def test_ingest_prints_the_summary_last_and_exits_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, _ = run(
        [
            "ingest",
            str(sample("panther.ndjson")),
            str(sample("malformed", "wazuh_aws-waf-invalid-json.log")),
            "--lake",
            str(tmp_path / "lake"),
        ],
        capsys,
    )
    assert code == 0
    assert summary is not None
    assert {k: summary[k] for k in ("records_in", "delivered", "rejected", "retryable")} == {
        "records_in": 7,
        "delivered": 6,
        "rejected": 1,
        "retryable": 0,
    }
    assert summary["rejected_by_kind"] == {"invalid_json": 1}
    assert len(list((tmp_path / "lake" / "_dead_letter").glob("*.ndjson"))) == 1


def test_a_sink_that_fails_while_writing_makes_records_retryable_and_the_exit_code_non_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = tmp_path / "lake"
    lake.mkdir()
    for day in ("2021-01-11", "2021-01-12"):  # the days of the panther sample
        (lake / f"event_date={day}").write_text("a file where a partition folder should be")
    code, summary, err = run(
        ["ingest", str(sample("panther.ndjson")), "--lake", str(lake), "--dead-letter", str(tmp_path / "dl")],
        capsys,
    )
    assert code == 1
    assert summary is not None
    assert (summary["records_in"], summary["retryable"], summary["delivered"]) == (6, 6, 0)
    assert "lake write failed" in err


def test_a_corrupt_file_in_a_lake_partition_does_not_stop_writes_and_compaction_leaves_it_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # writes never read a partition's files, so a damaged one does not block new data
    lake = tmp_path / "lake"
    for day in ("2021-01-11", "2021-01-12"):  # the days of the panther sample
        partition = lake / f"event_date={day}" / "account=unknown"
        partition.mkdir(parents=True)
        (partition / "part-0.parquet").write_bytes(b"PAR1 not really parquet PAR1")
    argv = ["ingest", str(sample("panther.ndjson")), str(sample("elastic-integrations.ndjson"))]
    code, summary, err = run([*argv, "--lake", str(lake)], capsys)
    assert code == 0
    assert summary is not None
    assert summary["delivered"] == summary["records_in"]
    # compaction reports the partitions it cannot read and rewrites nothing there
    code, report, err = run(["compact", str(lake)], capsys)
    assert code == 1
    assert report is not None
    assert sorted(report["unreadable"]) == [  # type: ignore[arg-type]
        f"event_date={day}/account=unknown: ArrowInvalid" for day in ("2021-01-11", "2021-01-12")
    ]
    assert len(list(lake.rglob("part-0.parquet"))) == 2
    assert "Traceback" not in err


@pytest.mark.parametrize("option", ["--lake", "--dead-letter"])
def test_a_target_folder_that_cannot_be_written_is_a_usage_error_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    occupied = tmp_path / "occupied"
    occupied.write_text("a file where a folder should be")
    targets = {"--lake": str(tmp_path / "lake"), "--dead-letter": str(tmp_path / "dl"), option: str(occupied)}
    argv = ["ingest", str(sample("panther.ndjson"))]
    for name, value in targets.items():
        argv += [name, value]
    code, summary, err = run(argv, capsys)
    assert (code, summary) == (2, None)
    assert err.startswith(f"waflens: {option} {occupied}: cannot write there")
    assert err.count("\n") == 1
    assert not (tmp_path / "lake").exists() or not any((tmp_path / "lake").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--config", "missing.toml"], "missing.toml: cannot read the config file"),
        (["--batch-records", "0"], "--batch-records must be at least 1"),
    ],
)
def test_usage_errors_exit_two_with_one_sentence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    code, summary, err = run(
        ["ingest", str(sample("panther.ndjson")), "--lake", str(tmp_path), *extra], capsys
    )
    assert (code, summary) == (2, None)
    assert err.startswith("waflens: ")
    assert message in err
    assert "Traceback" not in err


def test_a_missing_input_path_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["ingest", str(tmp_path / "nope.log"), "--lake", str(tmp_path / "lake")], capsys)
    assert code == 2
    assert "nope.log: no such file or folder" in err


def test_a_bad_config_file_names_the_file_and_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "waflens.toml"
    config.write_text('[[owners]]\nteam = "sec"\nlayer = "middle"\n')
    code, _, err = run(
        ["ingest", str(sample("panther.ndjson")), "--lake", str(tmp_path / "l"), "--config", str(config)],
        capsys,
    )
    assert code == 2
    assert f"{config}: owners[0].layer must be one of first, last, unassigned" in err


def test_generate_writes_the_requested_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, summary, _ = run(
        ["generate", "--records", "250", "--out", str(tmp_path / "g.log.gz"), "--seed", "4"], capsys, dev_main
    )
    assert code == 0
    assert summary == {"records": 250, "out": str(tmp_path / "g.log.gz"), **DAYS}
    code, summary, _ = run(["ingest", str(tmp_path / "g.log.gz"), "--lake", str(tmp_path / "lake")], capsys)
    assert summary is not None
    assert (code, summary["delivered"], summary["rejected"]) == (0, 250, 0)


def test_generate_creates_missing_folders_and_reports_unwritable_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, _ = run(
        ["generate", "--records", "3", "--out", str(tmp_path / "a" / "b" / "g.log")], capsys, dev_main
    )
    assert code == 0
    assert summary == {"records": 3, "out": str(tmp_path / "a" / "b" / "g.log"), **DAYS}
    (tmp_path / "file").write_text("x")
    code, summary, err = run(
        ["generate", "--records", "3", "--out", str(tmp_path / "file" / "g.log")], capsys, dev_main
    )
    assert (code, summary) == (2, None)
    assert "cannot write" in err
    assert "Traceback" not in err


def test_metrics_go_to_a_local_file_as_emf_only_when_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    corpus = [str(sample("panther.ndjson")), str(sample("malformed", "wazuh_aws-waf-invalid-json.log"))]
    metrics = tmp_path / "metrics.jsonl"
    code, summary, _ = run(
        ["ingest", *corpus, "--lake", str(tmp_path / "lake"), "--metrics", str(metrics)], capsys
    )
    assert code == 0
    assert summary is not None
    documents = [orjson.loads(line) for line in metrics.read_text().splitlines()]
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "waflens" for d in documents)
    run_counts = next(d for d in documents if "RecordsIn" in d)
    assert (sum(run_counts["RecordsIn"]), sum(run_counts["RecordsRejected"])) == (
        summary["records_in"],
        summary["rejected"],
    )
    blocked = sum(sum(d["BlockedRequests"]) for d in documents if "BlockedRequests" in d)
    lake = pl.scan_parquet(tmp_path / "lake" / "**" / "*.parquet")
    assert blocked == lake.filter(pl.col("waflens").struct.field("blocked")).collect().height > 0

    code, _, _ = run(["ingest", *corpus, "--lake", str(tmp_path / "lake2")], capsys)
    assert code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lake", "lake2", "metrics.jsonl"]


def test_a_run_past_its_deadline_reports_the_sources_it_did_not_finish_and_exits_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = [str(sample("panther.ndjson")), str(sample("aws-waf-security-automations.ndjson"))]
    code, summary, _ = run(["ingest", *paths, "--lake", str(tmp_path / "lake"), "--deadline", "1e-9"], capsys)
    assert code == 1
    assert summary is not None
    assert summary["records_in"] == summary["retryable"] + summary["delivered"] + summary["rejected"]
    assert [u.split(": ")[1] for u in summary["unfinished"]] == ["the deadline came before it was read"] * 2  # type: ignore[union-attr]
