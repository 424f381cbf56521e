"""``waflens-dev bench-files``: what the number of files costs, in the lake and in the input.

Both parts time whole ``waflens ingest --lake`` processes (``devtools.bench_process``), each run
``runs`` times in alternation so that load from other work falls on both sides:

* growth: the same generated day ingested into an empty lake and into a lake whose partition already
  holds ``partition_files`` files. The generator spreads records over three days and several accounts;
  here every record is moved into one partition (its time of day kept on the first day, its ``webaclId``
  one web ACL's), as a busy web ACL's day is. The files already there are written directly with
  ``ParquetLake.write_partition``, ``PREFILL_RECORDS`` distinct records each, so that how the pipeline
  batches cannot change their number. Reported: records/s into each and ``full_vs_empty``, the seconds
  into the full lake over the seconds into the empty one (the README holds it to 1.25).
* small files: the same records as one gzip file and split into ``files`` gzip files (the same bytes
  once decompressed), each given as a folder. Reported: seconds for each and ``many_vs_one``, their ratio
  (the README holds it to 3).

Generated inputs and the prefilled lake are kept in ``--workdir``; every run ingests into a fresh copy.
"""

from __future__ import annotations

import gzip
import re
import shutil
import statistics
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from devtools import generate_catalog as cat
from devtools.bench_process import BENCH_CONFIG, IngestRun, config_file, ingest, made_once, runs_folder
from devtools.frames import enriched
from devtools.generate import iter_records
from enrich import schema as S
from enrich.config import EnrichConfig
from ingest.sinks.lake import ParquetLake, partition_columns

PREFILL_RECORDS: Final = 20
_DAY_MS: Final = 86_400_000
_WEBACL: Final = cat.WEB_ACLS[0].arn.encode()
# every generated record starts this way (devtools.generate writes these keys first, in this order)
_HEAD: Final = re.compile(rb'\{"timestamp":(\d+),"formatVersion":1,"webaclId":"[^"]*"')


def one_partition(record: bytes) -> bytes:
    """A generated ``record`` moved into one partition: the first generated day, one web ACL."""
    head = _HEAD.match(record)
    if head is None:
        raise ValueError("not a record from devtools.generate: it does not start with its timestamp")
    timestamp = cat.START_MS + int(head[1]) % _DAY_MS
    moved = b'{"timestamp":%d,"formatVersion":1,"webaclId":"%s"' % (timestamp, _WEBACL)
    return moved + record[head.end() :]


def _gzip(path: Path, records: Iterable[bytes]) -> None:
    path.write_bytes(gzip.compress(b"".join(r + b"\n" for r in records), compresslevel=1))


def _day(records: int, seed: int) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        _gzip(path, (one_partition(r) for r in iter_records(records, seed=seed)))

    return write


def _prefilled(files: int, seed: int) -> Callable[[Path], None]:
    """A lake of ``files`` files in the measured day's partition, ``PREFILL_RECORDS`` records each."""

    def write(root: Path) -> None:
        texts = [one_partition(r).decode() for r in iter_records(files * PREFILL_RECORDS, seed=seed)]
        frame = enriched(texts, config=EnrichConfig.from_mapping(BENCH_CONFIG))
        (day, account), *others = frame.select(partition_columns()).unique().rows()
        assert not others, "the prefill must be one partition"
        lake = ParquetLake(root)
        folder = lake.location.join(f"{S.EVENT_DATE}={day}", f"{S.ACCOUNT_PARTITION}={account}")
        rows = frame.select(S.LAKE_FILE.names())
        for i in range(files):
            lake.write_partition(folder, rows.slice(i * PREFILL_RECORDS, PREFILL_RECORDS))

    return write


def _split(records: int, files: int, seed: int) -> Callable[[Path], None]:
    """A folder of ``files`` gzip files holding ``records`` generated records in order, spread evenly."""

    def write(folder: Path) -> None:
        folder.mkdir()
        generated = list(iter_records(records, seed=seed))
        width = len(str(files - 1))
        for i in range(files):
            part = generated[i * records // files : (i + 1) * records // files]
            _gzip(folder / f"part-{i:0{width}d}.log.gz", part)

    return write


def _one(records: int, seed: int) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        folder.mkdir()
        _gzip(folder / "all.log.gz", iter_records(records, seed=seed))

    return write


def _partitions(lake: Path) -> list[Path]:
    return sorted(p for p in lake.glob("*=*/*=*") if p.is_dir())


@dataclass(frozen=True)
class Inputs:
    """Everything both parts read, made once per workdir."""

    config: Path
    day: Path  # the generated records, all in one partition
    prefilled: Path  # a lake whose one partition, the day's, holds the files already there
    one: Path  # a folder holding the records as one file
    many: Path  # a folder holding the same records as many files

    @classmethod
    def made(cls, root: Path, records: int, files: int, partition_files: int, seed: int) -> Inputs:
        """Write what is not in ``root`` yet."""
        return cls(
            config=config_file(root),
            day=made_once(root / f"one-partition-{records}-{seed}.log.gz", _day(records, seed)),
            prefilled=made_once(
                root / f"prefilled-{partition_files}-{seed}", _prefilled(partition_files, seed + 1)
            ),
            one=made_once(root / f"one-file-{records}-{seed}", _one(records, seed)),
            many=made_once(root / f"{files}-files-{records}-{seed}", _split(records, files, seed)),
        )


def _run(inputs: Inputs, source: Path, work: Path, *, lake_from: Path | None = None) -> tuple[IngestRun, int]:
    """One ingest of ``source`` into a copy of ``lake_from`` (or nothing): the run and the partitions
    the lake then holds. ``work`` is removed afterwards."""
    work.mkdir()
    try:
        if lake_from is not None:
            shutil.copytree(lake_from, work / "lake")
        done = ingest([source], work / "lake", config=inputs.config)
        return done, len(_partitions(work / "lake"))
    finally:
        shutil.rmtree(work)


def bench_files(
    records: int,
    files: int,
    partition_files: int,
    *,
    runs: int = 1,
    seed: int = 0,
    workdir: Path | None = None,
) -> dict[str, object]:
    """Measure both parts ``runs`` times in alternation; the JSON-ready summary."""
    measured: dict[str, list[IngestRun]] = {"empty": [], "full": [], "one": [], "many": []}
    with tempfile.TemporaryDirectory(prefix="waflens-bench-files-") as scratch:
        root = workdir or Path(scratch)
        inputs = Inputs.made(root, records, files, partition_files, seed)
        held = len(list(_partitions(inputs.prefilled)[0].iterdir()))
        with runs_folder(root) as folder:
            for i in range(runs):
                measured["empty"].append(_run(inputs, inputs.day, folder / f"{i}-empty")[0])
                full, partitions = _run(inputs, inputs.day, folder / f"{i}-full", lake_from=inputs.prefilled)
                measured["full"].append(full)
                measured["one"].append(_run(inputs, inputs.one, folder / f"{i}-one")[0])
                measured["many"].append(_run(inputs, inputs.many, folder / f"{i}-many")[0])
    growth = _compare(measured["full"], measured["empty"])
    small = _compare(measured["many"], measured["one"])
    return {
        "growth": {
            "records": measured["empty"][0].records,
            "partition_files": held,
            "partitions_after": partitions,  # 1: the day went into the partition that held the files
            "empty_rps": _median_rate(measured["empty"]),
            "full_rps": _median_rate(measured["full"]),
            "full_vs_empty": growth["median"],
            "range": growth["range"],
        },
        "small_files": {
            "records": measured["one"][0].records,
            "files": files,
            "one_file_s": round(statistics.median(r.seconds for r in measured["one"]), 2),
            "many_files_s": round(statistics.median(r.seconds for r in measured["many"]), 2),
            "many_files_peak_rss_mb": max(r.peak_rss_mb for r in measured["many"]),
            "many_vs_one": small["median"],
            "range": small["range"],
        },
        "runs": runs,
    }


def _median_rate(runs: list[IngestRun]) -> int:
    return round(statistics.median(r.records_per_s for r in runs))


def _compare(slow: list[IngestRun], fast: list[IngestRun]) -> dict[str, object]:
    """Seconds of ``slow`` over seconds of ``fast``, run by run: the median and [min, max]."""
    ratios = [s.seconds / f.seconds for s, f in zip(slow, fast, strict=True)]
    return {
        "median": round(statistics.median(ratios), 2),
        "range": [round(min(ratios), 2), round(max(ratios), 2)],
    }


def table(result: dict[str, object]) -> str:
    """The two parts, one line each, with their ratios."""
    growth, small = result["growth"], result["small_files"]
    assert isinstance(growth, dict)
    assert isinstance(small, dict)
    low, high = growth["range"]
    lines = [
        f"lake partition growth ({growth['records']} records): empty lake {growth['empty_rps']} records/s, "
        f"partition holding {growth['partition_files']} files {growth['full_rps']} records/s; "
        f"full/empty = {growth['full_vs_empty']} ({low}-{high})"
    ]
    low, high = small["range"]
    lines.append(
        f"small files ({small['records']} records): one file {small['one_file_s']} s, "
        f"{small['files']} files {small['many_files_s']} s; many/one = {small['many_vs_one']} ({low}-{high})"
    )
    lines.append(f"({result['runs']} run{'s' if result['runs'] != 1 else ''}: median (min-max))")
    return "\n".join(lines)
