"""The benchmark compares like with like: the per-record reference builds the pipeline's documents."""

from __future__ import annotations

import orjson

from devtools.bench_process import BENCH_CONFIG
from devtools.bench_reference import Reference
from devtools.generate import iter_records
from enrich.config import EnrichConfig
from tests.support.pipeline import documents_by_id, enriched
from tests.support.samples import samples_dir

# Text around planted secrets in each place the redaction policy covers (see devtools.generate).
POLICY_SHAPES = (
    '"name":"Authorization","value":"Bearer wlsecret-',
    '"name":"x-amzn-waf-x-amzn-waf-authorization","value":"wlsecret-',
    '"name":"\\u',  # a header name written with JSON escapes
    '"location":"COOKIE","matchedData":["wlsecret-',
    '"location":"HEADER","matchedData":["wlsecret-',
    '"location":"SINGLE_QUERY_ARG","matchedData":["wlsecret-',
    '"excludedRules":[{"exclusionType":"EXCLUDED_AS_COUNT","ruleId":"SQLiExtendedPatterns_QUERYARGUMENTS",'
    '"ruleMatchDetails":[',
    '"key":"COOKIE","name":"session","value":"wlsecret-',
    '"key":"QUERY_STRING","value":"api_key=wlsecret-',
    ";jsessionid=wlsecret-",
    "&access_token=wlsecret-",
    "//deploy:wlsecret-",
)


def test_reference_and_pipeline_produce_identical_documents() -> None:
    config = EnrichConfig.from_mapping(BENCH_CONFIG)
    lines = [
        line
        for p in sorted(samples_dir().glob("*.ndjson"))
        for line in p.read_text(encoding="utf-8").splitlines()
    ]
    generated = [r.decode() for r in iter_records(5000, seed=13)]
    for shape in POLICY_SHAPES:  # the comparison covers every part of the redaction policy
        assert any(shape in line for line in generated), shape
    lines += generated
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
    threats = [d["waflens"] for _, d in pipeline.values()]
    assert len({c for t in threats for c in t["owasp"]}) >= 5  # the comparison covers the threat fields
    assert {t["ua"]["bot"] for t in threats} == {True, False}
    assert len({t["domain"] for t in threats}) >= 5
