"""``waflens-dev bench``: waflens against a lean per-record ingester and a parse-only ceiling.

One generated gzip input (kept in ``--workdir`` when one is given), each path in a process of its own
started through ``scripts/peak_rss.py``, so each has its own peak RSS:

* ``pipeline``: the real path in process, framing → decode → redact → enrich → OpenSearch bulk request
  bodies (``ingest.sinks.opensearch.encoder.bulk_chunks``, the bytes the sink would send);
* ``lake``: the same path into the Parquet lake;
* ``ingest``: ``waflens ingest FILE --lake DIR --config FILE`` as a whole process, its start-up included;
* ``lean``: ``devtools.bench_lean.LeanIngester``, one record at a time: the reference the issue holds
  waflens to;
* ``ceiling``: gunzip and ``orjson.loads`` per record on one core, nothing else.

The heavy per-record reference (``devtools.bench_reference``, the policy's own redaction walk) is no
longer a path: it is the oracle ``tests/unit/test_bench_reference.py`` holds the pipeline's documents to,
and the lean ingester is held to it in turn (``tests/unit/test_bench_lean.py``).

With ``runs`` above 1 every path runs that many times in alternation (pipeline, lake, ingest, lean,
ceiling, then again), so load from other work on the machine falls on all of them. Each rate and each
ratio (computed within a run, then ranged) is reported as the median and the min-max range over runs;
a path's peak RSS is its largest.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Final

from devtools.bench_process import config_file, decompressed_mb, generated, ingest, measured, runs_folder

PATHS: Final = ("pipeline", "lake", "ingest", "lean", "ceiling")
AGAINST_LEAN: Final = ("pipeline", "lake", "ingest")
AGAINST_CEILING: Final = ("pipeline", "lake", "ingest", "lean")
BULK_LINES: Final = ("pipeline", "lean")  # the paths that write bulk request lines

PathRun = dict[str, float]


def run_path(path: str, source: Path, config: Path, work: Path) -> PathRun:
    """One run of ``path`` on ``source``: records, seconds, documents, bytes_out and peak_rss_mb.

    ``work`` holds what the run writes and is removed afterwards, so every run writes into nothing.
    """
    work.mkdir()
    try:
        if path == "ingest":
            run = ingest([source], work / "lake", config=config)
            return {"records": run.records, "seconds": run.seconds, "peak_rss_mb": run.peak_rss_mb}
        child = [sys.executable, "-m", "devtools.bench_paths", path]
        done = measured([*child, source, work], report=work / "peak-rss.json")
        result: PathRun = json.loads(done.stdout)
        result["peak_rss_mb"] = done.peak_rss_mb
        return result
    finally:
        shutil.rmtree(work)


def bench(records: int, *, runs: int = 1, seed: int = 0, workdir: Path | None = None) -> dict[str, object]:
    """Generate ``records`` gzip records (once) and measure every path on them ``runs`` times."""
    with tempfile.TemporaryDirectory(prefix="waflens-bench-") as scratch:
        root = workdir or Path(scratch)
        source = generated(root, records, seed)
        config = config_file(root)
        input_mb = decompressed_mb(source)
        with runs_folder(root) as folder:
            measured_runs = [
                {path: run_path(path, source, config, folder / f"{i}-{path}") for path in PATHS}
                for i in range(runs)
            ]
    return summary(records, input_mb, measured_runs)


def _rates(run: dict[str, PathRun]) -> dict[str, float]:
    """One run's records/s per path and its ratios, under the summary's keys."""
    rps = {path: r["records"] / r["seconds"] for path, r in run.items()}
    rates = {f"{path}_rps": rps[path] for path in PATHS}
    rates |= {f"{path}_vs_lean": rps[path] / rps["lean"] for path in AGAINST_LEAN}
    rates |= {f"{path}_vs_ceiling": rps[path] / rps["ceiling"] for path in AGAINST_CEILING}
    return rates


def _rounded(key: str, value: float) -> float:
    """Rates to whole records/s; ratios to three significant digits (a small input's ratio to the
    ceiling is below 0.005)."""
    return round(value) if key.endswith("_rps") else float(f"{value:.3g}")


def summary(records: int, input_mb: float, runs: list[dict[str, PathRun]]) -> dict[str, object]:
    """The JSON-ready summary: medians at the top, ``range`` as [min, max], per-path detail in ``paths``."""
    rates = [_rates(run) for run in runs]
    result: dict[str, object] = {"records": records, "input_mb": round(input_mb, 1), "runs": len(runs)}
    ranges: dict[str, list[float]] = {}
    for key in rates[0]:
        values = [r[key] for r in rates]
        result[key] = _rounded(key, statistics.median(values))
        ranges[key] = [_rounded(key, min(values)), _rounded(key, max(values))]
    for path in PATHS:
        peaks = [run[path]["peak_rss_mb"] for run in runs]
        result[f"{path}_peak_rss_mb"] = max(peaks)
        ranges[f"{path}_peak_rss_mb"] = [min(peaks), max(peaks)]
    result["range"] = ranges
    result["paths"] = {path: _path_detail(path, input_mb, [run[path] for run in runs]) for path in PATHS}
    return result


def _path_detail(path: str, input_mb: float, runs: list[PathRun]) -> dict[str, float]:
    seconds = statistics.median(r["seconds"] for r in runs)
    detail = {
        "records": runs[0]["records"],
        "seconds": round(seconds, 3),
        "records_per_s": round(statistics.median(r["records"] / r["seconds"] for r in runs)),
        "mb_per_s": round(input_mb / seconds, 1),
        "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
    }
    if path in BULK_LINES:
        detail |= {"documents": runs[0]["documents"], "bytes_out": runs[0]["bytes_out"]}
    return detail


def table(result: dict[str, object]) -> str:
    """The side-by-side view ``waflens-dev bench`` prints: medians, and min-max ranges over the runs."""
    paths, ranges = result["paths"], result["range"]
    assert isinstance(paths, dict)
    assert isinstance(ranges, dict)
    rows = [f"{'path':<10}{'records/s':>11}{'range':>15}{'MB/s':>8}{'seconds':>9}{'peak RSS MB':>13}"]
    for name, r in paths.items():
        low, high = ranges[f"{name}_rps"]
        rows.append(
            f"{name:<10}{r['records_per_s']:>11}{f'{low}-{high}':>15}{r['mb_per_s']:>8}{r['seconds']:>9}"
            f"{r['peak_rss_mb']:>13}"
        )
    for against, paths_against in (("lean", AGAINST_LEAN), ("ceiling", AGAINST_CEILING)):
        ratios = []
        for path in paths_against:
            key = f"{path}_vs_{against}"
            low, high = ranges[key]
            ratios.append(f"{path}/{against} = {result[key]} ({low}-{high})")
        rows.append("   ".join(ratios))
    rows.append(
        f"({result['records']} records, {result['input_mb']} MB decompressed, "
        f"{result['runs']} run{'s' if result['runs'] != 1 else ''}: median (min-max))"
    )
    return "\n".join(rows)
