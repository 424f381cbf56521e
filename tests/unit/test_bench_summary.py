"""What the bench concludes from its runs: ratios within each run, then ranged."""

from __future__ import annotations

from devtools.bench import PATHS, summary


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


def test_a_paths_peak_is_its_largest_over_the_runs() -> None:
    first, second = _run({}), _run({})
    second["lake"]["peak_rss_mb"] = 300.0
    result = summary(1000, 2.0, [first, second])
    assert result["lake_peak_rss_mb"] == 300.0
    assert result["range"]["lake_peak_rss_mb"] == [100.0, 300.0]  # type: ignore[index]
