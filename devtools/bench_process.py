"""What the benchmarks share: the generated input, the config, and commands run as measured processes.

Every measured command is started through ``scripts/peak_rss.py --out``, a small launcher, so its peak
RSS is its own: Linux carries the peak of the address space a command was spawned from into its
``ru_maxrss`` across ``exec``, and the bench process itself grows while it generates input (see
``tests/support/hostile.py``). The launcher's ``seconds`` time the command as a whole, start-up included.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devtools.generate import write_logs

PEAK_RSS: Final = Path(__file__).resolve().parents[1] / "scripts" / "peak_rss.py"
_CHUNK: Final = 1 << 20

BENCH_CONFIG: dict[str, object] = {
    "owners": [
        {
            "team": "payments-eng",
            "layer": "first",
            "oncall": "#payments-oncall",
            "rule_group_pattern": ["*/rulegroup/eng-payments-allowlist/*"],
        },
        {
            "team": "search-eng",
            "layer": "first",
            "oncall": "#search-oncall",
            "rule_group_pattern": ["*/rulegroup/eng-search-api-guard/*"],
        },
        {"team": "platform-eng", "layer": "first", "web_acl_rule": ["PREFMManaged*"]},
        {
            "team": "security",
            "layer": "last",
            "oncall": "secops@example.com",
            "managed": [
                "AWSManagedRulesCommonRuleSet",
                "AWSManagedRulesSQLiRuleSet",
                "AWSManagedRulesKnownBadInputsRuleSet",
                "AWSManagedRulesAmazonIpReputationList",
                "AWSManagedRulesBotControlRuleSet",
                "AWSManagedRulesAntiDDoSRuleSet",
            ],
            "rule_group_pattern": [
                "*/rulegroup/sec-baseline-blocklist/*",
                "*/rulegroup/ShieldMitigationRuleGroup_*",
            ],
            "web_acl_rule": ["POSTFMManaged*", "Default_Action"],
        },
    ],
    "accounts": {
        "111111111111": {
            "name": "payments-prod",
            "team": "payments",
            "environment": "prod",
            "cost_centre": "CC-1100",
        },
        "222222222222": {
            "name": "search-prod",
            "team": "search",
            "environment": "prod",
            "cost_centre": "CC-2200",
        },
        "333333333333": {
            "name": "identity-staging",
            "team": "identity",
            "environment": "staging",
            "cost_centre": "CC-3300",
        },
        "444444444444": {
            "name": "platform-dev",
            "team": "platform",
            "environment": "dev",
            "cost_centre": "CC-4400",
        },
    },
    "account_defaults": {"team": "unknown", "environment": "unknown"},
}


def made_once(path: Path, write: Callable[[Path], object]) -> Path:
    """``path``, made by ``write`` unless it is there already.

    ``write`` makes it under a temporary name (``partial-`` before the name, so a ``.gz`` suffix still
    says gzip), renamed when complete: an interrupted run never leaves something short to reuse.
    """
    if not path.exists():
        partial = path.with_name(f"partial-{path.name}")
        if partial.is_dir():
            shutil.rmtree(partial)
        write(partial)
        partial.rename(path)
    return path


@contextmanager
def runs_folder(root: Path) -> Iterator[Path]:
    """``root/runs``, empty, for what the measured runs write; removed afterwards."""
    runs = root / "runs"
    shutil.rmtree(runs, ignore_errors=True)  # what an interrupted bench left
    runs.mkdir(parents=True)
    try:
        yield runs
    finally:
        shutil.rmtree(runs, ignore_errors=True)


def generated(workdir: Path, records: int, seed: int) -> Path:
    """The gzip file of ``records`` generated records in ``workdir``, written only when it is not there."""
    return made_once(workdir / f"bench-{records}-{seed}.log.gz", lambda p: write_logs(p, records, seed=seed))


def config_file(workdir: Path) -> Path:
    """``BENCH_CONFIG`` as a JSON config file for ``waflens ingest --config``."""
    path = workdir / "bench-config.json"
    path.write_text(json.dumps(BENCH_CONFIG, indent=1), encoding="utf-8")
    return path


def lines(path: Path) -> Iterator[bytes]:
    """The records of a gzip NDJSON file, one at a time (the way per-record loaders read S3 objects)."""
    with gzip.open(path, "rb") as stream:
        yield from (line for line in stream if line.strip())


def decompressed_mb(path: Path) -> float:
    """The size of a gzip file's content in MiB."""
    size = 0
    with gzip.open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
    return size / 2**20


@dataclass(frozen=True)
class Measured:
    """A command that ran to completion: its stdout, its seconds (start-up included) and its peak RSS."""

    stdout: bytes
    seconds: float
    peak_rss_mb: float


def measured(command: Sequence[str | os.PathLike[str]], *, report: Path) -> Measured:
    """Run ``command`` through ``scripts/peak_rss.py``; a non-zero exit raises with the end of its stderr."""
    if not PEAK_RSS.is_file():
        raise RuntimeError(f"{PEAK_RSS} is missing: the benchmarks run from a checkout of waflens")
    done = subprocess.run(
        [sys.executable, PEAK_RSS, "--out", report, "--", *command], capture_output=True, check=False
    )
    if done.returncode != 0:
        tail = done.stderr[-1500:].decode("utf-8", "replace")
        raise RuntimeError(f"{' '.join(map(str, command))} exited with {done.returncode}:\n{tail}")
    usage = json.loads(report.read_text(encoding="utf-8"))
    return Measured(done.stdout, float(usage["seconds"]), float(usage["peak_rss_mb"]))


@dataclass(frozen=True)
class IngestRun:
    """One ``waflens ingest`` process: records delivered, seconds and peak RSS."""

    records: int
    seconds: float
    peak_rss_mb: float

    @property
    def records_per_s(self) -> float:
        """Delivered records per second of the whole process."""
        return self.records / self.seconds


def ingest(
    inputs: Sequence[Path], lake: Path, *, config: Path, batch_records: int | None = None
) -> IngestRun:
    """``waflens ingest INPUTS --lake LAKE`` as a whole process; dead letters and the RSS report go beside
    ``LAKE``, for the caller to remove with it.

    Every record must be delivered: a retryable or rejected record would make the rate meaningless.
    """
    command: list[str | os.PathLike[str]] = [sys.executable, "-m", "ingest.cli", "ingest", *inputs]
    command += ["--lake", lake, "--dead-letter", lake.with_name(f"{lake.name}.dead-letter")]
    command += ["--config", config, "--progress", "off"]
    if batch_records is not None:
        command += ["--batch-records", str(batch_records)]
    run = measured(command, report=lake.with_name(f"{lake.name}.peak-rss.json"))
    summary = json.loads(run.stdout.strip().splitlines()[-1])
    if summary["delivered"] != summary["records_in"]:
        raise RuntimeError(f"waflens ingest did not deliver every record: {summary}")
    return IngestRun(int(summary["delivered"]), run.seconds, run.peak_rss_mb)
