"""A backfill's job: its time range in UTC, and the checkpoint that belongs to it and no other."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from enrich.config import ConfigError
from ingest.backfill import Checkpoint, Job, parse_time

QUEUE = "https://sqs.us-east-1.amazonaws.com/111122223333/waflens"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-05", datetime(2026, 1, 5, tzinfo=UTC)),
        ("2026-01-05T10:35", datetime(2026, 1, 5, 10, 35, tzinfo=UTC)),  # no offset: UTC
        ("2026-01-05T10:35Z", datetime(2026, 1, 5, 10, 35, tzinfo=UTC)),
        ("2026-01-05T12:35+02:00", datetime(2026, 1, 5, 10, 35, tzinfo=UTC)),
    ],
)
def test_times_are_iso_8601_read_as_utc(text: str, expected: datetime) -> None:
    assert parse_time(text, "--since") == expected


def test_the_range_includes_since_and_excludes_until() -> None:
    since, until = datetime(2026, 1, 5, 10, 0, tzinfo=UTC), datetime(2026, 1, 5, 11, 0, tzinfo=UTC)
    job = Job("aws-waf-logs-x", "", QUEUE, since, until)
    assert job.wants(since)
    assert not job.wants(until)
    assert not job.wants(datetime(2026, 1, 5, 9, 55, tzinfo=UTC))
    assert Job("aws-waf-logs-x", "", QUEUE).wants(datetime(1970, 1, 1, tzinfo=UTC))


@pytest.mark.parametrize(
    ("url", "sentence"),
    [
        ("https://bucket/prefix", "'https://bucket/prefix' is not an s3://bucket/prefix URL"),
        ("s3://ab/x", "'ab' is not an S3 bucket name (3-63 lowercase letters, digits, . -)"),
        ("s3://My_Bucket", "'My_Bucket' is not an S3 bucket name (3-63 lowercase letters, digits, . -)"),
    ],
)
def test_a_location_that_is_not_an_s3_prefix_is_one_sentence(url: str, sentence: str) -> None:
    with pytest.raises(ConfigError) as raised:
        Job.from_url(url, QUEUE, None, None)
    assert str(raised.value) == sentence


def test_a_checkpoint_is_resumed_only_by_its_own_job(tmp_path: Path) -> None:
    job = Job("aws-waf-logs-x", "AWSLogs/", QUEUE, parse_time("2026-01-05", "--since"), None)
    checkpoint = Checkpoint(tmp_path / "cp.json", job)
    assert checkpoint.load() is None
    checkpoint.save("AWSLogs/1/a.log.gz")
    assert checkpoint.load() == "AWSLogs/1/a.log.gz"
    assert [p.name for p in tmp_path.iterdir()] == ["cp.json"]  # the temporary file was renamed into place

    other = Job("aws-waf-logs-x", "AWSLogs/", QUEUE, parse_time("2026-01-06", "--since"), None)
    with pytest.raises(ConfigError, match="belongs to another backfill"):
        Checkpoint(tmp_path / "cp.json", other).load()
    (tmp_path / "cp.json").write_text("{not json")
    with pytest.raises(ConfigError, match=r"cp.json: cannot be read \(JSONDecodeError\)$"):
        checkpoint.load()


def test_the_default_checkpoint_differs_per_prefix_range_and_queue() -> None:
    base = Job("aws-waf-logs-x", "AWSLogs/", QUEUE)
    names = {
        Checkpoint.default(job).path.name
        for job in (
            base,
            Job("aws-waf-logs-x", "AWSLogs/1/", QUEUE),
            Job("aws-waf-logs-x", "AWSLogs/", QUEUE, until=parse_time("2026-01-01", "--until")),
            Job("aws-waf-logs-x", "AWSLogs/", QUEUE + "-2"),
        )
    }
    assert len(names) == 4
    assert Checkpoint.default(base) == Checkpoint.default(Job("aws-waf-logs-x", "AWSLogs/", QUEUE))
    assert all(name.startswith("waflens-backfill-aws-waf-logs-x-") for name in names)
