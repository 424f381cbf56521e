"""Backfill: WAF log objects already in S3 announced to an SQS queue, as S3 itself would announce them.

Objects under a prefix are listed in key order (``ListObjectsV2``), kept when their key follows WAF's
layout ``AWSLogs/<account>/WAFLogs/<region>/<web-acl>/YYYY/MM/dd/HH/mm/<file>.log.gz`` and its folder
time falls in the range, and sent ten at a time (``SendMessageBatch``), each message an S3
``ObjectCreated:Put`` event notification, so the S3/SQS handler processes them unchanged. Ingestion is
idempotent, so announcing an object twice only writes the same documents again. A checkpoint file keeps
the last key settled; a rerun lists from there (``StartAfter``), so an interrupted backfill resumes.
"""

from __future__ import annotations

import hashlib
import os
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Protocol

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from enrich.config import ConfigError
from ingest.sources.s3_layout import notification, parse_key

BATCH: Final = 10  # SendMessageBatch takes at most ten entries
MAX_SKIPPED_LISTED: Final = 100  # skipped keys named in the summary; all are counted
_BUCKET: Final = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class _Paginator(Protocol):
    def paginate(self, **kwargs: str) -> Iterable[Mapping[str, Any]]: ...


class S3Client(Protocol):
    """The part of a boto3 ``s3`` client a backfill uses."""

    def get_paginator(self, operation_name: str) -> _Paginator: ...


class SqsClient(Protocol):
    """The part of a boto3 ``sqs`` client a backfill uses."""

    def send_message_batch(self, **kwargs: Any) -> Mapping[str, Any]: ...


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 time or date as UTC (a time without an offset is UTC); ConfigError names ``option``."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ConfigError(f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-01-05T10:00Z)") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class Job:
    """What to backfill: objects under ``s3://bucket/prefix`` with folder times in [since, until)."""

    bucket: str
    prefix: str
    queue_url: str
    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if not _BUCKET.fullmatch(self.bucket):
            raise ConfigError(
                f"{self.bucket!r} is not an S3 bucket name (3-63 lowercase letters, digits, . -)"
            )
        if not self.queue_url.startswith(("https://", "http://")):
            raise ConfigError(f"--queue {self.queue_url!r} is not an SQS queue URL")
        if self.since and self.until and self.since >= self.until:
            raise ConfigError("--since must be before --until")

    @classmethod
    def from_url(cls, url: str, queue_url: str, since: datetime | None, until: datetime | None) -> Job:
        """The job for ``s3://bucket/prefix``; ConfigError for anything else."""
        if not url.startswith("s3://"):
            raise ConfigError(f"{url!r} is not an s3://bucket/prefix URL")
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        return cls(bucket, prefix, queue_url, since, until)

    def wants(self, when: datetime) -> bool:
        """Whether a folder time is in the range: ``since`` included, ``until`` not."""
        return (self.since is None or when >= self.since) and (self.until is None or when < self.until)

    def identity(self) -> dict[str, str | None]:
        """What a checkpoint must match to be resumed: the prefix, the range and the queue."""
        times = {k: v.isoformat() if v else None for k, v in (("since", self.since), ("until", self.until))}
        return {"bucket": self.bucket, "prefix": self.prefix, **times, "queue": self.queue_url}


@dataclass(frozen=True)
class Checkpoint:
    """A file holding the last key a backfill settled, for ``Job`` and no other."""

    path: Path
    job: Job

    @classmethod
    def default(cls, job: Job) -> Checkpoint:
        """``./waflens-backfill-<bucket>-<digest>.json``: a digest of the prefix, the range and the queue."""
        digest = hashlib.sha256(orjson.dumps(job.identity(), option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]
        return cls(Path(f"waflens-backfill-{job.bucket}-{digest}.json"), job)

    def load(self) -> str | None:
        """The key to list after, or None to start at the beginning; ConfigError for another job's file."""
        try:
            saved = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as exc:
            raise ConfigError(f"--checkpoint {self.path}: cannot be read ({type(exc).__name__})") from None
        if not isinstance(saved, dict) or saved.get("backfill") != self.job.identity():
            raise ConfigError(
                f"--checkpoint {self.path} belongs to another backfill (prefix, range or queue differ)"
            )
        last = saved.get("last_key")
        return last if isinstance(last, str) else None

    def save(self, last_key: str) -> None:
        """Replace the file atomically: an interruption leaves the old checkpoint or the new one."""
        body = orjson.dumps({"backfill": self.job.identity(), "last_key": last_key})
        folder = self.path.parent
        handle, temporary = tempfile.mkstemp(prefix=f".{self.path.name}.", dir=folder)
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temporary, self.path)


@dataclass
class Report:
    """What a backfill did; ``as_dict`` is the command's summary line."""

    checkpoint: str
    resumed_after: str | None = None
    listed: int = 0
    enqueued: int = 0
    enqueued_bytes: int = 0  # the objects' sizes, not the messages'
    outside_range: int = 0
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0
    failed: list[str] = field(default_factory=list)  # "key: error code" of messages SQS did not take
    error: str | None = None  # what stopped the backfill early
    last_key: str | None = None
    complete: bool = False
    seconds: float = 0.0

    def skip(self, key: str, reason: str) -> None:
        """Count a key outside the layout; the first ``MAX_SKIPPED_LISTED`` are named."""
        self.skipped_count += 1
        if len(self.skipped) < MAX_SKIPPED_LISTED:
            self.skipped.append(f"{key}: {reason}")

    def as_dict(self) -> dict[str, object]:
        """The summary, with the rate."""
        rate = self.enqueued / self.seconds if self.seconds > 0 else 0.0
        return {**asdict(self), "seconds": round(self.seconds, 3), "objects_per_second": round(rate, 1)}


@dataclass(frozen=True)
class _Message:
    key: str
    size: int
    body: bytes


@dataclass
class Backfill:
    """One backfill run: list, filter, enqueue in batches, checkpoint after each batch."""

    job: Job
    s3: S3Client
    sqs: SqsClient
    checkpoint: Checkpoint
    region: str = "us-east-1"
    attempts: int = 5  # sends of a batch's retryable failed entries, the first included
    progress: Callable[[Report], None] = lambda report: None
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def run(self) -> Report:
        """Enqueue what the job names from where the checkpoint left off; stop at the first batch SQS keeps
        refusing, so the checkpoint never passes a key that was not enqueued. Ctrl-C stops it the same way."""
        report = Report(str(self.checkpoint.path), resumed_after=self.checkpoint.load())
        report.last_key = report.resumed_after
        started = self.clock()
        try:
            report.complete = self._list_and_send(report)
        except (ClientError, BotoCoreError) as exc:
            report.error = f"listing s3://{self.job.bucket}/{self.job.prefix} failed: {_code(exc)}"
        except OSError as exc:
            report.error = f"checkpoint {self.checkpoint.path} cannot be written: {exc.strerror}"
        except KeyboardInterrupt:
            report.error = "interrupted"
        report.seconds = self.clock() - started
        return report

    def _list_and_send(self, report: Report) -> bool:
        after = {"StartAfter": report.resumed_after} if report.resumed_after else {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.job.bucket, Prefix=self.job.prefix, **after
        )
        pending: list[_Message] = []
        listed = None
        for page in pages:
            request_id = page.get("ResponseMetadata", {}).get("RequestId", "")
            for obj in page.get("Contents", []):
                listed = obj["Key"]
                report.listed += 1
                placed = parse_key(listed)
                if isinstance(placed, str):
                    report.skip(listed, placed)
                elif not self.job.wants(placed.time):
                    report.outside_range += 1
                else:
                    body = notification(self.job.bucket, obj, self.region, request_id)
                    pending.append(_Message(listed, obj["Size"], body))
                    if len(pending) == BATCH:
                        if not self._send(pending, report):
                            return False
                        pending = []
        if pending and not self._send(pending, report):
            return False
        if listed is not None:  # keys after the last batch were filtered or skipped: settled too
            self._save(report, listed)
        return True

    def _send(self, batch: Sequence[_Message], report: Report) -> bool:
        """Send one batch, retrying failed entries with backoff; checkpoint what is settled."""
        refused = self._deliver(batch)
        sent = [m for m in batch if m.key not in refused]
        report.enqueued += len(sent)
        report.enqueued_bytes += sum(m.size for m in sent)
        if not refused:
            self._save(report, batch[-1].key)
            self.progress(report)
            return True
        report.failed.extend(f"{m.key}: {refused[m.key]}" for m in batch if m.key in refused)
        report.error = f"SQS did not take {len(refused)} message(s)"
        first = next(i for i, m in enumerate(batch) if m.key in refused)
        if first:  # the messages before the first refused one are settled
            self._save(report, batch[first - 1].key)
        self.progress(report)
        return False

    def _save(self, report: Report, key: str) -> None:
        self.checkpoint.save(key)
        report.last_key = key

    def _deliver(self, batch: Sequence[_Message]) -> dict[str, str]:
        """The keys SQS still refuses after ``attempts`` sends, with the error code."""
        waiting = {str(i): m for i, m in enumerate(batch)}
        refused: dict[str, str] = {}  # for good
        codes: dict[str, str] = {}  # the last code of each retried entry
        for attempt in range(self.attempts):
            if attempt:
                self.sleep(random.uniform(0, min(5.0, 0.2 * 2**attempt)))  # full jitter
            entries = [{"Id": i, "MessageBody": m.body.decode()} for i, m in waiting.items()]
            try:
                response = self.sqs.send_message_batch(QueueUrl=self.job.queue_url, Entries=entries)
            except (ClientError, BotoCoreError) as exc:  # botocore retried the transient ones already
                return refused | {m.key: _code(exc) for m in waiting.values()}
            retry = {}
            for failure in response.get("Failed", []):
                message, code = waiting[failure["Id"]], str(failure.get("Code", "unknown"))
                if failure.get("SenderFault"):  # the message's own fault: resending cannot help
                    refused[message.key] = code
                else:
                    retry[failure["Id"]], codes[message.key] = message, code
            waiting = retry
            if not waiting:
                break
        return refused | {m.key: codes[m.key] for m in waiting.values()}


def _code(exc: ClientError | BotoCoreError) -> str:
    """An AWS error as its code (or the botocore exception's name): never its message."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__
