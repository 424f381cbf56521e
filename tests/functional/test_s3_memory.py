"""An S3 object is streamed: the handler reads a 200 MB object within 1.25x the peak RSS of a 20 MB one.

Each object is uploaded to S3 on loopback (moto, in this process) and announced in an SQS event; the
handler runs in a process of its own (``tests.support.invoke``) whose peak RSS ``scripts/peak_rss.py``
reports. Batches of 2,000 records, as in ``test_memory.py``, so both runs span several batches and the
smaller one measures the steady state rather than a cold start.

The documents go to the fake cluster, served from a third process so that what it keeps is not counted.
The lake's side of the same check is ``test_memory.py``'s (``waflens ingest --lake``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from devtools.generate import write_logs
from ingest.environment import ENV_BATCH_RECORDS, ENV_DEAD_LETTER, ENV_LAKE, ENV_METRICS, ENV_OPENSEARCH_URL
from tests.support.moto import Aws
from tests.support.s3_events import BUCKET, notification, sqs_event

REPO = Path(__file__).resolve().parents[2]
BYTES_PER_RECORD = 2_350  # a little under the generator's mean plain record (2,400 bytes)
MB = 1_000_000


@pytest.fixture
def cluster() -> Iterator[str]:
    """The fake cluster's URL, served by a process of its own for the length of the test."""
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.support.serve_fake_opensearch"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert server.stdin is not None
    assert server.stdout is not None
    try:
        yield server.stdout.readline().strip()
    finally:
        server.stdin.close()
        server.wait(timeout=60)


def peak_rss_mb(tmp_path: Path, s3: Any, megabytes: int, url: str) -> float:
    """Upload a plain object of about ``megabytes`` MB, run the handler on its notification, return MB."""
    logs = tmp_path / f"{megabytes}mb.log"
    records = write_logs(logs, megabytes * MB // BYTES_PER_RECORD + 1, seed=21)
    assert logs.stat().st_size >= megabytes * MB
    key = f"AWSLogs/111122223333/WAFLogs/us-east-1/shop/2026/01/05/10/05/{logs.name}"
    s3.upload_file(str(logs), BUCKET, key)
    logs.unlink()
    event = tmp_path / f"{megabytes}mb.json"
    event.write_text(json.dumps(sqs_event([notification(key=key)])), encoding="utf-8")
    invoke = [sys.executable, "-m", "tests.support.invoke", "ingest.handlers.s3:handler", str(event)]
    environ = {k: v for k, v in os.environ.items() if k != ENV_LAKE} | {
        ENV_OPENSEARCH_URL: url,
        ENV_DEAD_LETTER: str(tmp_path / f"dead-{megabytes}"),
        ENV_METRICS: "off",
        ENV_BATCH_RECORDS: "2000",
    }
    done = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "peak_rss.py"), "--", *invoke],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
        timeout=900,
        env=environ,
    )
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"batchItemFailures": []}
    lines = [json.loads(line) for line in done.stderr.strip().splitlines()]
    (summary,) = [line for line in lines if line.get("message") == "run finished"]
    assert (summary["delivered"], summary["records_in"]) == (records, records)
    return float(lines[-1]["peak_rss_mb"])


@pytest.mark.slow
def test_a_ten_times_larger_object_stays_within_a_quarter_more_memory(
    aws: Aws, cluster: str, tmp_path: Path
) -> None:
    s3: Any = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET)
    small_mb = peak_rss_mb(tmp_path, s3, 20, cluster)
    large_mb = peak_rss_mb(tmp_path, s3, 200, cluster)
    ratio = large_mb / small_mb
    print(f"peak RSS: 20 MB object {small_mb} MB, 200 MB object {large_mb} MB, ratio {ratio:.2f}")
    assert large_mb <= 1.25 * small_mb
