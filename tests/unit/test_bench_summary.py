"""What the benchmarks conclude from their runs: ratios within each run, peaks against a budget."""

from __future__ import annotations

from devtools.bench import PATHS, summary
from devtools.bench_scale import conclusions


def _run(seconds: dict[str, float], records: int = 1000) -> dict[str, dict[str, float]]:
    counts = {"records": records, "peak_rss_mb": 100.0, "documents": records, "bytes_out": 2000 * records}
    return {p: {**counts, "seconds": seconds.get(p, 1.0)} for p in PATHS}


def test_ratios_are_taken_within_each_run_then_ranged() -> None:
    # run 1: pipeline and lean both 1000 records/s; run 2: pipeline 2000, lean 10000
    runs = [_run({"pipeline": 1.0, "lean": 1.0}), _run({"pipeline": 0.5, "lean": 0.1})]
    result = summary(1000, 2.0, runs)
    assert result["pipeline_vs_lean"] == 0.6  # the median of 1.0 and 0.2, not 1500 / 5500
    assert result["range"]["pipeline_vs_lean"] == [0.2, 1.0]  # type: ignore[index]
    assert result["pipeline_rps"] == 1500
    assert result["range"]["lean_rps"] == [1000, 10000]  # type: ignore[index]


def test_a_small_ratio_keeps_its_significant_digits() -> None:
    runs = [_run({"ingest": 1.0, "ceiling": 0.0047})] * 2  # ingest 1,000 records/s, ceiling 212,766
    assert summary(1000, 2.0, runs)["ingest_vs_ceiling"] == 0.0047


def test_a_paths_peak_is_its_largest_over_the_runs() -> None:
    first, second = _run({}), _run({})
    second["lake"]["peak_rss_mb"] = 300.0
    result = summary(1000, 2.0, [first, second])
    assert result["lake_peak_rss_mb"] == 300.0
    assert result["range"]["lake_peak_rss_mb"] == [100.0, 300.0]  # type: ignore[index]


def test_peak_ratio_per_batch_and_the_largest_batch_within_budget() -> None:
    rows = [
        {"records": 20_000, "batch_records": 20_000, "peak_rss_mb": 400.0},
        {"records": 2_000_000, "batch_records": 20_000, "peak_rss_mb": 460.0},
        {"records": 20_000, "batch_records": 50_000, "peak_rss_mb": 900.0},
        {"records": 2_000_000, "batch_records": 50_000, "peak_rss_mb": 1100.0},
        {"records": 20_000, "batch_records": 5_000, "peak_rss_mb": 250.0},
    ]
    result = conclusions(rows, 1024.0)
    assert result["peak_ratio"] == {"20000": 1.15, "50000": 1.22}  # 5000 ran on one size only
    assert result["largest_batch_within_budget"] == 20_000  # 50,000 fits on the small input only
    assert conclusions(rows, 200.0)["largest_batch_within_budget"] is None
