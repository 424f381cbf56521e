"""Hostile inputs for ``waflens ingest``, built at test time, and the checks every hostile case must pass.

Each case runs the real command line in a child process (``python -m ingest.cli ingest ...``) so its
exit code, its tracebacks and its peak memory are the ones a user would see. Peak memory comes from
``os.wait4`` on that child, by ``scripts/peak_rss.py``: the kernel's ``ru_maxrss`` for exactly that
process. The launcher is a small process of its own because Linux carries the peak RSS of the address
space a command was spawned from into its ``ru_maxrss`` across ``exec``: spawned straight from this test
process (hundreds of MB after other tests), every command would report at least that. A
``RUSAGE_CHILDREN`` delta reports the largest child this test process ever had, and polling
``/proc/PID/status`` for ``VmHWM`` loses the last rise once the child exits.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

import polars as pl

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

WEBACL_ID: Final = "arn:aws:wafv2:us-east-1:111122223333:regional/webacl/api/abc"
TIMESTAMP_MS: Final = 1_767_571_200_000  # 2026-01-05T00:00:00Z
OVERSIZE_CUT: Final = 4 << 20  # the framing's limit on one record (README: "larger than any WAF record")
PIECE: Final = 8  # no run of this many characters of a secret may be written anywhere
DEFAULT_RSS_MB: Final = 600.0  # a small input: the interpreter, Polars and one batch
SUMMARY_KEYS: Final = ("records_in", "delivered", "rejected", "retryable")

Json = dict[str, object]

PEAK_RSS: Final = Path(__file__).resolve().parents[2] / "scripts" / "peak_rss.py"


# --- secrets and records -----------------------------------------------------------------------------


def secret(case: str) -> str:
    """The planted value for ``case``: ``hx`` and 24 hex digits, the same on every run."""
    rng = random.Random(case)
    return "hx" + "".join(rng.choice("0123456789abcdef") for _ in range(24))


def pieces(value: str) -> list[str]:
    """Every ``PIECE``-character run of ``value`` (the whole value when it is shorter)."""
    if len(value) <= PIECE:
        return [value]
    return [value[i : i + PIECE] for i in range(len(value) - PIECE + 1)]


def record(request_id: str, *, http: Json | None = None, **top: object) -> Json:
    """A valid WAFv2 record; ``http`` entries replace ``httpRequest`` members, ``top`` top-level ones."""
    request: Json = {
        "clientIp": "203.0.113.7",
        "country": "US",
        "headers": [
            {"name": "Host", "value": "api.example.com"},
            {"name": "User-Agent", "value": "curl/8.5"},
        ],
        "uri": "/v1/items",
        "args": "page=2",
        "httpVersion": "HTTP/1.1",
        "httpMethod": "GET",
        "requestId": request_id,
    }
    request.update(http or {})
    base: Json = {
        "timestamp": TIMESTAMP_MS,
        "formatVersion": 1,
        "webaclId": WEBACL_ID,
        "terminatingRuleId": "Default_Action",
        "terminatingRuleType": "REGULAR",
        "action": "ALLOW",
        "terminatingRuleMatchDetails": [],
        "httpSourceName": "ALB",
        "httpSourceId": "111122223333-app/api/0123456789abcdef",
        "ruleGroupList": [],
        "rateBasedRuleList": [],
        "nonTerminatingMatchingRules": [],
        "httpRequest": request,
    }
    base.update(top)
    return base


def authorized(request_id: str, token: str) -> Json:
    """A valid record carrying ``token`` the ordinary way, in an Authorization header."""
    headers = [
        {"name": "Host", "value": "api.example.com"},
        {"name": "Authorization", "value": f"Bearer {token}"},
    ]
    return record(request_id, http={"headers": headers})


def dumps(value: object) -> str:
    """Compact JSON, the way WAF writes a record."""
    return json.dumps(value, separators=(",", ":"))


def line(value: object) -> bytes:
    """One NDJSON line."""
    return dumps(value).encode() + b"\n"


def raw(value: object, **replacements: str) -> str:
    """Compact JSON of ``value`` where each string ``"@name@"`` is replaced by the raw JSON text given.

    For what ``json.dumps`` will not write: escaped names, duplicate keys, invalid JSON.
    """
    text = dumps(value)
    for name, replacement in replacements.items():
        placeholder = dumps(f"@{name}@")
        assert placeholder in text, name
        text = text.replace(placeholder, replacement)
    return text


def valid_records(prefix: str, count: int, token: str) -> tuple[bytes, list[str]]:
    """``count`` valid NDJSON records (the first carries ``token`` in an Authorization header) and their
    request ids."""
    ids = [f"{prefix}-{i}" for i in range(count)]
    records = [authorized(ids[0], token), *(record(i) for i in ids[1:])]
    return b"".join(line(r) for r in records), ids


def write_valid(path: Path, prefix: str, count: int, token: str) -> list[str]:
    """Write ``valid_records`` to ``path``; return their request ids."""
    data, ids = valid_records(prefix, count, token)
    path.write_bytes(data)
    return ids


# --- running the command line ---------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What one ``waflens ingest`` child process did."""

    exit_code: int
    stdout: bytes
    stderr: bytes
    peak_rss_mb: float
    seconds: float
    lake: Path
    dead_letter: Path

    @property
    def summary(self) -> Json | None:
        """The last stdout line as a JSON object, or None when it is not one."""
        lines = self.stdout.strip().splitlines()
        try:
            value = json.loads(lines[-1]) if lines else None
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def stderr_tail(self, limit: int = 1500) -> str:
        """The end of stderr, for failure messages."""
        return self.stderr[-limit:].decode("utf-8", "replace")


def run_ingest(
    work: Path,
    inputs: Sequence[str | bytes | os.PathLike[str]],
    *,
    lake: Path | None = None,
    dead_letter: Path | None = None,
    stdin: bytes | None = None,
    timeout: float = 180.0,
) -> Run:
    """Run ``waflens ingest INPUT... --lake L --dead-letter D`` in a child process and wait for it."""
    lake = lake or work / "lake"
    dead_letter = dead_letter or work / "dead-letter"
    out, err = work / "child.stdout", work / "child.stderr"
    report = work / "child.rss.json"
    command = [
        sys.executable,
        str(PEAK_RSS),
        "--out",
        report,
        "--",
        sys.executable,
        "-m",
        "ingest.cli",
        "ingest",
        *inputs,
        "--lake",
        lake,
        "--dead-letter",
        dead_letter,
    ]
    started = time.perf_counter()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(
            command,
            cwd=work,
            start_new_session=True,  # a timeout kills the launcher and the command together
            stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
            stdout=stdout,
            stderr=stderr,
        )
        feeder = _feed(child, stdin) if stdin is not None else None
        status = _wait(child, timeout)
        if feeder is not None:
            feeder.join(timeout=5)
    return Run(
        exit_code=status,
        stdout=out.read_bytes(),
        stderr=err.read_bytes(),
        peak_rss_mb=float(json.loads(report.read_text())["peak_rss_mb"]),
        seconds=time.perf_counter() - started,
        lake=lake,
        dead_letter=dead_letter,
    )


def _feed(child: subprocess.Popen[bytes], data: bytes) -> threading.Thread:
    def write() -> None:
        assert child.stdin is not None
        try:
            child.stdin.write(data)
            child.stdin.close()
        except BrokenPipeError:  # the child exited without reading: its exit code tells why
            pass

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    return thread


def _wait(child: subprocess.Popen[bytes], timeout: float) -> int:
    """The launcher's exit code (the command's); on a timeout, kill both and fail."""
    try:
        return child.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        raise AssertionError(f"waflens ingest still running after {timeout:.0f} s: killed") from None


@contextmanager
def fifo_feeding(path: Path, data: bytes) -> Iterator[None]:
    """Make ``path`` a FIFO and, while the block runs, write ``data`` once a reader opens it.

    The writer opens without blocking and retries, so a run that never opens the FIFO cannot hang
    the test; it stops when the block ends.
    """
    os.mkfifo(path)
    stop = threading.Event()

    def write() -> None:
        while not stop.is_set():
            try:
                fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError:  # ENXIO: no reader yet
                time.sleep(0.02)
                continue
            os.set_blocking(fd, True)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            except BrokenPipeError:  # the reader went away: its exit code tells why
                pass
            finally:
                os.close(fd)
            return

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)


# --- what a run left behind ---------------------------------------------------------------------


def files_below(root: Path) -> list[Path]:
    """Every file under ``root`` (none when it does not exist)."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.is_dir() else []


Blob = bytes | pl.LazyFrame  # raw bytes, or a Parquet file's rows


def written(run: Run) -> Iterator[tuple[str, Blob]]:
    """Everything the run wrote, by where: lake and dead-letter files (Parquet both as bytes and as
    decoded values), their paths, stdout and stderr."""
    for root in (run.lake, run.dead_letter):
        for path in files_below(root):
            yield f"path {path}", os.fsencode(path.relative_to(root))
            yield str(path), path.read_bytes()
            if path.suffix == ".parquet":
                yield f"{path} (values)", pl.scan_parquet(path, hive_partitioning=False)
    yield "stdout", run.stdout
    yield "stderr", run.stderr


def leaks(blobs: Iterable[tuple[str, Blob]], secrets: Sequence[str]) -> list[str]:
    """Where any ``PIECE``-character run of a secret appears, one line per place."""
    needles = sorted({p for s in secrets for p in pieces(s)})
    found = []
    for where, data in blobs if needles else ():
        hits = sorted(_found(data, needles))
        if hits:
            found.append(f"{len(hits)} piece(s) of a secret (e.g. {hits[0]!r}) in {where}")
    return found


def _found(data: Blob, needles: list[str]) -> set[str]:
    """Which ``needles`` occur in ``data``: one Aho-Corasick pass in Polars, however large the data.

    Bytes are decoded with replacement: needles are ASCII, so no match is made or lost by it.
    """
    if isinstance(data, bytes):
        frame, text = pl.LazyFrame({"t": [data.decode("utf-8", "replace")]}), pl.col("t")
    else:
        frame = data
        text = pl.concat_str(
            [e for name, dtype in frame.collect_schema().items() for e in _leaves(pl.col(name), dtype)],
            separator="\n",
            ignore_nulls=True,
        )
    hits = text.str.extract_many(needles, overlapping=True).explode().drop_nulls().unique()
    return set(frame.select(hits).collect().to_series().to_list())


def _leaves(expr: pl.Expr, dtype: PolarsDataType) -> list[pl.Expr]:
    """Every scalar inside ``expr`` as text (a list's elements joined), for searching a Parquet file."""
    if isinstance(dtype, pl.Struct):
        return [e for f in dtype.fields for e in _leaves(expr.struct.field(f.name), f.dtype)]
    if isinstance(dtype, pl.List):
        inner = pl.concat_str(_leaves(pl.element(), dtype.inner), separator="\n", ignore_nulls=True)
        return [expr.list.eval(inner).list.join("\n")]
    return [expr.cast(pl.String)]


def lake_frame(lake: Path) -> pl.DataFrame:
    """Every lake row, with ``account`` from its folder name; empty when nothing was written."""
    frames = []
    for path in files_below(lake):
        if path.suffix == ".parquet":
            account = path.parent.name.removeprefix("account=")
            frames.append(
                pl.read_parquet(path, hive_partitioning=False).with_columns(account=pl.lit(account))
            )
    return pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()


def request_ids(lake: Path) -> set[str]:
    """The ``httpRequest.requestId`` of every lake row."""
    frame = lake_frame(lake)
    if frame.is_empty():
        return set()
    return set(
        frame.select(pl.col("httpRequest").struct.field("requestId")).to_series().drop_nulls().to_list()
    )


def undelivered(lake: Path, ids: Iterable[str]) -> list[str]:
    """A problem line when some of ``ids`` (request ids) are not in the lake."""
    missing = sorted(set(ids) - request_ids(lake))
    return [f"records not delivered: {missing}"] if missing else []


def dead_letters(run: Run) -> list[Json]:
    """Every dead-letter entry (files that are not NDJSON objects are reported by ``leaks``)."""
    entries = []
    for path in files_below(run.dead_letter):
        for text in path.read_bytes().splitlines():
            try:
                value = json.loads(text)
            except ValueError:
                continue
            if isinstance(value, dict):
                entries.append(value)
    return entries


# --- the checks every case makes -----------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """What a case must show: the records it put in, its exit code, its secrets and its memory bound."""

    records_in: int
    exit_code: int = 0
    secrets: Sequence[str] = ()
    max_rss_mb: float = DEFAULT_RSS_MB
    delivered: int | None = None
    rejected: int | None = None
    also: Sequence[str] = ()  # problems the case found itself, reported with these


def check(run: Run, expect: Expect) -> Json:
    """Check (a) the summary balances and counts what went in, (b) no secret piece anywhere, (c) no
    traceback, (d) peak memory, (e) the exit code; fail once, listing every problem."""
    problems = list(expect.also)
    if b"Traceback" in run.stderr:
        problems.append(f"traceback on stderr: {_exception_line(run.stderr)}")
    if run.exit_code != expect.exit_code:
        problems.append(f"exit code {run.exit_code}, expected {expect.exit_code}")
    summary = run.summary
    if summary is None:
        problems.append(f"the last stdout line is not a JSON summary: {run.stdout[-300:]!r}")
        summary = {}
    else:
        counts = {k: summary.get(k) for k in SUMMARY_KEYS}
        numbers = [v for v in counts.values() if isinstance(v, int) and v >= 0]
        if len(numbers) != len(SUMMARY_KEYS):
            problems.append(f"summary counts missing or negative: {counts}")
        elif numbers[0] != sum(numbers[1:]):
            problems.append(f"summary does not balance: {counts}")
        if counts["records_in"] != expect.records_in:
            problems.append(f"records_in {counts['records_in']}, the case put in {expect.records_in}")
        for key, wanted in (("delivered", expect.delivered), ("rejected", expect.rejected)):
            if wanted is not None and counts[key] != wanted:
                problems.append(f"{key} {counts[key]}, expected {wanted}")
    problems.extend(leaks(written(run), expect.secrets))
    if run.peak_rss_mb >= expect.max_rss_mb:
        problems.append(f"peak RSS {run.peak_rss_mb:.0f} MB, bound {expect.max_rss_mb:.0f} MB")
    context = f"(exit {run.exit_code}, peak RSS {run.peak_rss_mb:.0f} MB, {run.seconds:.1f} s)"
    assert not problems, "\n".join([*problems, context, "--- stderr tail ---", run.stderr_tail()])
    return summary


def check_usage_error(run: Run, *, mentions: str, secrets: Sequence[str] = ()) -> None:
    """Exit 2 with one sentence on stderr naming ``mentions``, before any record was read or written."""
    problems = []
    text = run.stderr.decode("utf-8", "replace").strip()
    if run.exit_code != 2:
        problems.append(f"exit code {run.exit_code}, expected 2")
    if "Traceback" in text:
        problems.append("traceback on stderr")
    if len(text.splitlines()) != 1 or mentions not in text:
        problems.append(f"stderr is not one sentence naming {mentions}: {text[:600]!r}")
    summary = run.summary
    if summary is not None and not all(_count(summary.get(k)) for k in SUMMARY_KEYS):
        problems.append(f"summary with missing or negative counts: {summary}")
    if any(p.suffix == ".parquet" for p in files_below(run.lake)):
        problems.append("records were written before the usage error")
    problems.extend(leaks(written(run), secrets))
    assert not problems, "\n".join(problems)


def _exception_line(stderr: bytes) -> str:
    """The line naming the exception of the first traceback on ``stderr``."""
    text = stderr.decode("utf-8", "replace")
    after = text[text.index("Traceback") :].splitlines()[1:]
    return next((x for x in after if x and not x.startswith((" ", "\t"))), "(no exception line)")[:300]


def _count(value: object) -> bool:
    return isinstance(value, int) and value >= 0


def not_plain(names: Iterable[str]) -> list[str]:
    """The names that are not only ASCII letters, digits, ``=``, ``-``, ``_`` or ``.``."""
    return [n for n in names if not re.fullmatch(r"[A-Za-z0-9=._-]+", n)]
