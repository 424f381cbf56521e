"""Long runs say how they are going on stderr, a failing sink says so each round, and neither carries
record content (the generated logs plant ``wlsecret-…`` in headers, query strings and cookies)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import orjson
import pytest

from devtools.cli import main as dev_main
from devtools.fake_opensearch import FakeOpenSearch, Faults
from ingest.cli.main import main
from tests.functional.test_backfill import BUCKET, body, bucket, key, queue
from tests.support.moto import Aws

RECORDS = 3_000
RETRY_LINE = re.compile(
    r"waflens: OpenSearch retry round (\d+): (\d+) items \(429 Too Many Requests\), next in \d+\.\d s"
)


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated WAF logs with planted secrets."""
    path = tmp_path_factory.mktemp("logs") / "generated.log.gz"
    assert dev_main(["generate", "--records", str(RECORDS), "--out", str(path), "--seed", "11"]) == 0
    assert b"wlsecret-" in gzip.decompress(path.read_bytes())
    return path


def ingest(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, object], str]:
    code = main(["ingest", *argv])
    out, err = capsys.readouterr()
    return code, orjson.loads(out.splitlines()[-1]), err


def test_progress_on_counts_records_megabytes_and_rate(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [str(logs), "--lake", str(tmp_path / "lake"), "--batch-records", "1000", "--progress", "on"]
    code, summary, err = ingest(argv, capsys)
    assert (code, summary["records_in"]) == (0, RECORDS)
    counts = [s for s in err.split("\r") if s.startswith("waflens: ") and "records/s" in s]
    assert counts
    assert re.match(rf"waflens: {RECORDS:,} records, \d+\.\d MB, [\d.]+k? records/s, \d\d:\d\d", counts[-1])
    assert "wlsecret" not in err


def test_no_progress_when_stderr_is_not_a_terminal(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = ingest([str(logs), "--lake", str(tmp_path / "lake"), "--batch-records", "1000"], capsys)
    assert code == 0
    assert "\r" not in err
    assert "records/s" not in err


@pytest.mark.parametrize("progress", ["on", "auto"])
def test_a_failing_cluster_prints_one_line_per_retry_round_without_content(
    logs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], progress: str
) -> None:
    with FakeOpenSearch(Faults(fail_first_n_requests=2)) as server:
        argv = [str(logs), "--opensearch", server.url, "--dead-letter", str(tmp_path / "dl")]
        one_request = ["--bulk-bytes", str(64 << 20)]  # each round is one request
        code, summary, err = ingest([*argv, *one_request, "--progress", progress], capsys)
        documents = len(server.documents)
    assert (code, summary["delivered"], documents) == (0, RECORDS, RECORDS)
    lines = [line.split("\r")[-1] for line in err.splitlines()]
    rounds = [RETRY_LINE.fullmatch(line) for line in lines if "retry round" in line]
    assert all(rounds)
    # the first two requests fail whole, so two rounds resend every document
    assert [(int(r.group(1)), int(r.group(2))) for r in rounds if r] == [(1, RECORDS), (2, RECORDS)]
    assert "sink retrying" not in err  # the human line replaces the log line, not both
    assert "wlsecret" not in err


def test_backfill_shows_objects_on_a_terminal_and_one_closing_line_otherwise(
    aws: Aws, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket(aws, [key(m, n=n) for m in range(5, 20, 5) for n in range(4)])
    _, url = queue(aws)
    argv = ["backfill", f"s3://{BUCKET}/AWSLogs/", "--queue", url]
    closing = f"waflens: backfill: 12 objects ({12 * len(body()) / 1e6:.1f} MB) enqueued, "

    assert main([*argv, "--checkpoint", str(tmp_path / "a.json")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.startswith(closing)
    assert err.count("\n") == 1

    assert main([*argv, "--checkpoint", str(tmp_path / "b.json"), "--progress", "on"]) == 0
    err = capsys.readouterr().err
    assert re.search(r"\rwaflens: 12 objects, 0\.0 MB, [\d.]+ objects/s", err)
    assert closing in err
    assert "wlsecret" not in err
