"""Memory is bounded by the batch, not the input: 10x the records within 1.25x the peak RSS.

Both inputs span several batches, so the smaller run measures the steady state and not a cold start
(a two-batch run peaks lower only because the allocator has had fewer chances to fragment). By hand:
    python scripts/peak_rss.py -- waflens ingest big.log.gz --lake /tmp/lake --batch-records 2000
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.generate import write_logs

REPO = Path(__file__).resolve().parents[2]
BATCH = "2000"


def peak_rss_mb(logs: Path, lake: Path) -> float:
    command = [
        sys.executable,
        "-m",
        "ingest.cli",
        "ingest",
        str(logs),
        "--lake",
        str(lake),
        "--batch-records",
        BATCH,
    ]
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "peak_rss.py"), "--", *command],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        timeout=600,
    )
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert summary["retryable"] == 0
    assert summary["delivered"] > 0
    return float(report["peak_rss_mb"])


@pytest.mark.slow
def test_peak_memory_for_ten_times_the_records_stays_within_a_quarter_more(tmp_path: Path) -> None:
    small, large = tmp_path / "small.log.gz", tmp_path / "large.log.gz"
    write_logs(small, 20_000, seed=21)
    write_logs(large, 200_000, seed=21)
    small_mb = peak_rss_mb(small, tmp_path / "lake-small")
    large_mb = peak_rss_mb(large, tmp_path / "lake-large")
    print(f"peak RSS: 20k records {small_mb} MB, 200k records {large_mb} MB, ratio {large_mb / small_mb:.2f}")
    assert large_mb <= 1.25 * small_mb
