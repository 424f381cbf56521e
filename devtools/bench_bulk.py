"""Bulk indexing throughput against the loopback OpenSearch, with and without gzip, in one run.

    python -m devtools.bench_bulk [--records N] [--repeat R]

Generates N records, decodes and enriches them once (not timed), then times ``OpenSearchSink.write``
for each transport setting against a fresh loopback server, printing docs/s and bytes on the wire side
by side. The loopback server is Python on the same machine, so its own parsing is inside the numbers:
they compare settings with each other, they are not a cluster's capacity.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Sequence

from devtools.fake_opensearch import FakeOpenSearch
from devtools.frames import enriched
from devtools.generate import iter_records
from ingest.deadline import Deadline
from ingest.sinks.opensearch.client import Endpoint, make_client
from ingest.sinks.opensearch.service import BulkOptions, OpenSearchSink

DESCRIPTION = "Bulk indexing throughput against the loopback OpenSearch, with and without gzip."


def measure(frame_records: list[str], *, compress: bool, repeat: int) -> dict[str, float]:
    """Median ``OpenSearchSink.write`` time and wire bytes for ``frame_records`` over ``repeat`` runs."""
    frame = enriched(frame_records)
    runs: list[float] = []
    wire = raw = 0
    for _ in range(repeat):
        with FakeOpenSearch() as server:
            sink = OpenSearchSink(make_client(Endpoint(url=server.url, compress=compress)), BulkOptions())
            started = time.perf_counter()
            result = sink.write(frame, Deadline.never())
            runs.append(time.perf_counter() - started)
            assert not result.retryable
            assert not result.rejected
            assert len(server.documents) == frame.height
            bulks = [r for r in server.requests if r.path.endswith("_bulk")]
            wire, raw = sum(len(r.body) for r in bulks), sum(len(r.decompressed_body) for r in bulks)
    seconds = statistics.median(runs)
    return {
        "docs_per_s": round(frame.height / seconds),
        "seconds": round(seconds, 3),
        "wire_mb": round(wire / 2**20, 2),
        "body_mb": round(raw / 2**20, 2),
        "wire_bytes_per_doc": round(wire / frame.height),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Measure gzip and plain transport, print a table, then one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m devtools.bench_bulk", description=DESCRIPTION)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    records = [r.decode() for r in iter_records(args.records, seed=5)]
    results = {
        "gzip": measure(records, compress=True, repeat=args.repeat),
        "plain": measure(records, compress=False, repeat=args.repeat),
    }
    print(f"{'transport':<10}{'docs/s':>10}{'seconds':>10}{'wire MB':>10}{'body MB':>10}{'wire B/doc':>12}")
    for name, r in results.items():
        print(
            f"{name:<10}{r['docs_per_s']:>10}{r['seconds']:>10}{r['wire_mb']:>10}{r['body_mb']:>10}{r['wire_bytes_per_doc']:>12}"
        )
    print(json.dumps({"records": args.records, **results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
