"""``waflens-dev bench``, ``bench-scale`` and ``bench-files`` run every path and report what the README
promises, at sizes that take seconds.

The speed ratios themselves are measured by running the commands (README, "Performance and memory"), not
asserted here: a timed assertion in a test suite is not a benchmark.
"""

from __future__ import annotations

import gzip
import io
from contextlib import redirect_stdout
from pathlib import Path

import orjson
import pytest

from devtools.bench import PATHS
from devtools.cli import main

RECORDS = 1000


def run(argv: list[str]) -> list[str]:
    """``waflens-dev ARGV``'s stdout lines; it must exit 0."""
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(argv) == 0
    return out.getvalue().strip().splitlines()


@pytest.fixture(scope="module")
def bench_lines(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """One ``bench`` of two runs: its table, then its JSON summary."""
    workdir = tmp_path_factory.mktemp("bench")
    return run(["bench", "--records", str(RECORDS), "--runs", "2", "--workdir", str(workdir)])


def test_every_path_sees_the_same_records(bench_lines: list[str]) -> None:
    result = orjson.loads(bench_lines[-1])
    paths = result["paths"]
    assert list(paths) == list(PATHS)
    assert {p["records"] for p in paths.values()} == {RECORDS}
    # the pipeline and the lean ingester write one document per record; their bytes differ only by the
    # pipeline's fuller redaction (planted secrets in arguments and match details are replaced)
    assert paths["pipeline"]["documents"] == paths["lean"]["documents"] == RECORDS
    pipeline_bytes, lean_bytes = paths["pipeline"]["bytes_out"], paths["lean"]["bytes_out"]
    assert pipeline_bytes > RECORDS * 1000
    assert abs(lean_bytes - pipeline_bytes) <= 0.01 * pipeline_bytes


def test_every_rate_and_ratio_is_a_median_within_its_range(bench_lines: list[str]) -> None:
    result = orjson.loads(bench_lines[-1])
    assert result["runs"] == 2
    keys = [f"{p}_rps" for p in PATHS] + [f"{p}_peak_rss_mb" for p in PATHS]
    keys += ["pipeline_vs_lean", "lake_vs_lean", "ingest_vs_lean"]
    keys += ["pipeline_vs_ceiling", "lake_vs_ceiling", "ingest_vs_ceiling", "lean_vs_ceiling"]
    assert set(result["range"]) == set(keys)
    for key in keys:
        low, high = result["range"][key]
        assert 0 < low <= result[key] <= high, key


def test_each_path_reports_its_own_peak_memory(bench_lines: list[str]) -> None:
    result = orjson.loads(bench_lines[-1])
    # the ceiling's process holds gunzip and orjson, not Polars; started straight from this test process
    # it would report this process's peak (hundreds of MB) instead of its own
    assert result["ceiling_peak_rss_mb"] < 100
    assert result["pipeline_peak_rss_mb"] > 2 * result["ceiling_peak_rss_mb"]
    assert result["ingest_peak_rss_mb"] > 2 * result["ceiling_peak_rss_mb"]


def test_bench_prints_a_table_before_the_json(bench_lines: list[str]) -> None:
    header, *rows = bench_lines[:-1]
    assert header.split() == ["path", "records/s", "range", "MB/s", "seconds", "peak", "RSS", "MB"]
    assert [row.split()[0] for row in rows[:5]] == list(PATHS)
    assert rows[5].startswith("pipeline/lean = ")
    assert "ingest/lean = " in rows[5]
    assert rows[6].startswith("pipeline/ceiling = ")
    assert f"({RECORDS} records," in rows[7]
    assert "2 runs" in rows[7]


def test_bench_scale_runs_each_size_with_each_batch_and_keeps_the_inputs(tmp_path: Path) -> None:
    workdir = ["--workdir", str(tmp_path)]
    sizes = orjson.loads(
        run(["bench-scale", "--records", "500,1500", "--batch-records", "250", *workdir])[-1]
    )
    rows = sizes["rows"]
    assert [(r["records"], r["batch_records"]) for r in rows] == [(500, 250), (1500, 250)]
    peaks = [r["peak_rss_mb"] for r in rows]
    assert sizes["peak_ratio"] == {"250": round(max(peaks) / min(peaks), 2)}

    generated = tmp_path / "bench-500-0.log.gz"
    written = generated.stat().st_mtime_ns
    lines = run(["bench-scale", "--records", "500", "--batch-records", "250,1500", *workdir])
    assert generated.stat().st_mtime_ns == written  # reused, not generated again
    assert lines[0].split() == ["records", "batch", "seconds", "records/s", "peak", "RSS", "MB"]
    assert [line.split()[:2] for line in lines[1:3]] == [["500", "250"], ["500", "1500"]]
    assert lines[3] == "largest batch within 1024 MB: 1500"  # a few hundred MB at these sizes
    assert orjson.loads(lines[-1])["largest_batch_within_budget"] == 1500


def test_bench_files_measures_a_full_partition_and_many_small_files(tmp_path: Path) -> None:
    argv = ["bench-files", "--records", "200", "--files", "10", "--partition-files", "12"]
    lines = run([*argv, "--workdir", str(tmp_path)])
    result = orjson.loads(lines[-1])
    growth, small = result["growth"], result["small_files"]
    assert growth["records"] == 200
    assert growth["partition_files"] == 12
    assert growth["partitions_after"] == 1  # the day went into the one partition that held the files
    assert growth["full_vs_empty"] > 0
    assert small["records"] == 200
    assert small["files"] == 10
    assert small["many_vs_one"] > 0
    assert lines[0].startswith("lake partition growth (200 records): ")
    assert lines[1].startswith("small files (200 records): ")

    # the small files hold the one file's bytes, in order
    many = sorted((tmp_path / "10-files-200-0").iterdir())
    assert len(many) == 10
    one = gzip.decompress((tmp_path / "one-file-200-0" / "all.log.gz").read_bytes())
    assert b"".join(gzip.decompress(p.read_bytes()) for p in many) == one


def test_bench_files_refuses_more_files_than_records(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench-files", "--records", "5", "--files", "6"]) == 2
    assert "--files 6 is more than --records 5" in capsys.readouterr().err
