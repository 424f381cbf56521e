"""``waflens-dev bench-scale``: whole ``waflens ingest --lake`` processes over input and batch sizes.

Each input size is generated once into ``--workdir`` (2,000,000 records take about two minutes to
generate; a rerun with the same workdir reuses the files), then ``waflens ingest FILE --lake DIR
--batch-records B`` runs once for every size and batch size, as a whole process whose peak RSS is its
own (``devtools.bench_process``). Printed side by side: records, batch, seconds, records/s, peak RSS.

Two answers come out of it. Memory follows the batch, not the input: for a batch size run on several
sizes, the ratio of the largest peak to the smallest (the README holds it to 1.25). And what fits a
Lambda function: the largest batch size whose peak, on every size, stays within ``--budget-mb``
(1,024 for a 1 GB function). That peak is the command line's; the Lambda handler runs the same pipeline
per object with its own imports, so it is an estimate to leave headroom under, not a guarantee.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from devtools.bench_process import config_file, generated, ingest, runs_folder
from ingest.run import Limits

DEFAULT_BATCH: Final = Limits.batch_records
LAMBDA_MB: Final = 1024.0

Row = dict[str, float]


def bench_scale(
    sizes: Sequence[int],
    batches: Sequence[int] = (DEFAULT_BATCH,),
    *,
    seed: int = 0,
    workdir: Path | None = None,
    budget_mb: float = LAMBDA_MB,
) -> dict[str, object]:
    """Run ``waflens ingest`` on each generated size with each batch size; the JSON-ready summary."""
    with tempfile.TemporaryDirectory(prefix="waflens-bench-scale-") as scratch:
        root = workdir or Path(scratch)
        inputs = {size: generated(root, size, seed) for size in sizes}  # all first: none is timed
        config = config_file(root)
        rows = []
        with runs_folder(root) as folder:
            for size in sizes:
                for batch in batches:
                    work = folder / f"{size}-{batch}"
                    work.mkdir()
                    try:
                        run = ingest([inputs[size]], work / "lake", config=config, batch_records=batch)
                    finally:
                        shutil.rmtree(work)
                    rows.append(
                        {
                            "records": run.records,
                            "batch_records": batch,
                            "seconds": run.seconds,
                            "records_per_s": round(run.records_per_s),
                            "peak_rss_mb": run.peak_rss_mb,
                        }
                    )
    return {**conclusions(rows, budget_mb), "budget_mb": budget_mb, "rows": rows}


def conclusions(rows: list[Row], budget_mb: float) -> dict[str, object]:
    """The peak ratio per batch size run on several sizes, and the largest batch size within budget."""
    peaks: dict[int, list[float]] = {}
    for row in rows:
        peaks.setdefault(int(row["batch_records"]), []).append(row["peak_rss_mb"])
    ratios = {str(b): round(max(p) / min(p), 2) for b, p in peaks.items() if len(p) > 1}
    fitting = [b for b, p in peaks.items() if max(p) <= budget_mb]
    return {"peak_ratio": ratios, "largest_batch_within_budget": max(fitting, default=None)}


def table(result: dict[str, object]) -> str:
    """Rows side by side, then the peak ratios and the largest batch size within the budget."""
    rows = result["rows"]
    ratios = result["peak_ratio"]
    assert isinstance(rows, list)
    assert isinstance(ratios, dict)
    budget = result["budget_mb"]
    lines = [f"{'records':>10}{'batch':>8}{'seconds':>9}{'records/s':>11}{'peak RSS MB':>13}"]
    lines += [
        f"{r['records']:>10}{r['batch_records']:>8}{r['seconds']:>9}{r['records_per_s']:>11}{r['peak_rss_mb']:>13}"
        for r in rows
    ]
    lines += [f"batch {b}: largest peak / smallest = {ratio}" for b, ratio in ratios.items()]
    fitting = result["largest_batch_within_budget"]
    lines.append(
        f"largest batch within {budget:g} MB: {fitting}"
        if fitting is not None
        else f"no batch size measured stays within {budget:g} MB"
    )
    return "\n".join(lines)
