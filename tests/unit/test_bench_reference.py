"""The benchmark compares like with like: the per-record reference builds the pipeline's documents."""

from __future__ import annotations

import orjson

from enrich.config import EnrichConfig
from ingest.bench import BENCH_CONFIG
from ingest.bench_reference import Reference
from ingest.generate import iter_records
from tests.support.pipeline import documents_by_id, enriched
from tests.support.samples import samples_dir


def test_reference_and_pipeline_produce_identical_documents() -> None:
    config = EnrichConfig.from_mapping(BENCH_CONFIG)
    lines = [
        line
        for p in sorted(samples_dir().glob("*.ndjson"))
        for line in p.read_text(encoding="utf-8").splitlines()
    ]
    lines += [r.decode() for r in iter_records(5000, seed=13)]
    pipeline = documents_by_id(enriched(lines, config=config))
    reference = Reference(config)
    compared = 0
    for line in lines:
        action, doc = reference.bulk_lines(line.encode()).splitlines()
        meta = orjson.loads(action)["index"]
        assert pipeline[meta["_id"]] == (meta["_index"], orjson.loads(doc)), line[:120]
        compared += 1
    assert compared == len(lines) == 5323
    owners = {d["waflens"]["terminating"]["owner"]["matched_by"] for _, d in pipeline.values()}
    assert owners >= {"managed", "rule_group_pattern", "web_acl_rule", "default"}  # the config does real work
