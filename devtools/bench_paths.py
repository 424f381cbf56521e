"""The bench's in-process paths, one per process: ``python -m devtools.bench_paths PATH SOURCE WORKDIR``.

Prints one JSON object: ``records``, ``seconds`` (the work alone: not the interpreter's start-up, not the
imports), ``documents`` and ``bytes_out`` (the bulk lines written; 0 where a path writes none). Each path
imports only what it uses, so the peak RSS of its process is its own: the ceiling's is gunzip and orjson,
not Polars and the pipeline.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final, TypedDict

import orjson

from devtools.bench_process import lines

IN_PROCESS: Final = ("pipeline", "lake", "lean", "ceiling")

Run = Callable[[Path], tuple[int, int, int]]  # records, documents, bytes of bulk lines


class Counted(TypedDict):
    """What one path did: the JSON its process prints."""

    records: int
    seconds: float
    documents: int
    bytes_out: int


def ceiling(source: Path) -> tuple[int, int, int]:
    """gunzip and ``orjson.loads`` per record, nothing else: the most any per-record parser can do."""
    records = 0
    for records, line in enumerate(lines(source), start=1):  # noqa: B007  # records is the count after the loop
        orjson.loads(line)
    return records, 0, 0


def runner(path: str, workdir: Path) -> Run:
    """The function that runs ``path``, its modules imported (the imports are not part of the work)."""
    # imported here, per path, so that the ceiling's process never holds Polars
    if path == "ceiling":
        return ceiling
    if path == "lean":
        from devtools.bench_lean import ingest_file  # noqa: PLC0415

        return ingest_file
    from devtools.bench_pipeline import run_pipeline  # noqa: PLC0415

    return functools.partial(run_pipeline, workdir=workdir, lake=path == "lake")


def measure(path: str, source: Path, workdir: Path) -> Counted:
    """Run ``path`` over ``source`` in this process, timing the work alone."""
    run = runner(path, workdir)
    started = time.perf_counter()
    records, documents, out = run(source)
    seconds = time.perf_counter() - started
    return {"records": records, "seconds": seconds, "documents": documents, "bytes_out": out}


if __name__ == "__main__":
    name, input_path, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    if name not in IN_PROCESS:
        raise SystemExit(f"usage: python -m devtools.bench_paths {{{','.join(IN_PROCESS)}}} SOURCE WORKDIR")
    work.mkdir(parents=True, exist_ok=True)
    sys.stdout.write(json.dumps(measure(name, input_path, work)))
