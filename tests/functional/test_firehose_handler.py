"""The Firehose handler end to end: realistic events in, Firehose's contract out, in both modes.

Every response is checked for shape (each recordId once, in order, strict base64, a known result); the
cluster is the fault-injecting fake on loopback, the lake and dead letters are folders under tmp_path.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest
from aws_lambda_powertools.utilities.data_classes import KinesisFirehoseEvent

from devtools.fake_opensearch import FakeOpenSearch, Faults
from devtools.generate import iter_records
from enrich import schema as S
from enrich.config import ConfigError
from ingest import telemetry
from ingest.decode.records import record_id
from ingest.environment import (
    ENV_BATCH_RECORDS,
    ENV_BULK_BYTES,
    ENV_BULK_CONCURRENCY,
    ENV_DEAD_LETTER,
    ENV_DEADLINE_MARGIN,
    ENV_FIREHOSE_MODE,
    ENV_LAKE,
    ENV_METRICS,
    ENV_OPENSEARCH_URL,
    ENV_RETRY_SECONDS,
)
from ingest.handlers import firehose, runtime
from ingest.handlers.firehose_response import RESPONSE_BUDGET
from ingest.sinks.lake import scan_lake
from tests.support.lambda_events import (
    Context,
    cut_inside_secret,
    decoded,
    event_file,
    firehose_event,
    leaks,
    planted_in,
    waf_lines,
    with_secrets,
)
from tests.support.lambda_events import (
    record_id as record_id_of,
)
from tests.support.pipeline import documents_by_id, enriched
from tests.support.samples import sample

RESULTS = {"Ok", "Dropped", "ProcessingFailed"}


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh cold start per test: no targets, dead letters in tmp_path, metrics off."""
    for name in (ENV_LAKE, ENV_OPENSEARCH_URL, ENV_FIREHOSE_MODE, ENV_BATCH_RECORDS, ENV_RETRY_SECONDS):
        monkeypatch.delenv(name, raising=False)
    for name in (ENV_BULK_BYTES, ENV_BULK_CONCURRENCY, ENV_DEADLINE_MARGIN):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(ENV_DEAD_LETTER, str(tmp_path / "dead"))
    monkeypatch.setenv(ENV_METRICS, "off")
    runtime.reset()
    yield tmp_path
    runtime.reset()
    telemetry.configure_metrics("off")
    telemetry.logger().clear_state()


def handle(event: dict[str, Any], context: Context | None = None) -> list[tuple[str, str, bytes]]:
    """Invoke the handler; check the contract's shape and return (recordId, result, data) per record."""
    response = firehose.handler(event, context or Context())
    assert set(response) == {"records"}
    answered = decoded(response)
    assert [r[0] for r in answered] == [r["recordId"] for r in event["records"]]
    assert {r[1] for r in answered} <= RESULTS
    assert all(data == b"" for _, result, data in answered if result != "Ok")
    assert len(json.dumps(response)) <= RESPONSE_BUDGET
    return answered


def dead_letters(folder: Path) -> list[dict[str, Any]]:
    return [
        orjson.loads(line) for f in sorted(folder.glob("*.ndjson")) for line in f.read_bytes().splitlines()
    ]


def expected_documents(lines: list[bytes]) -> dict[str, dict[str, Any]]:
    """What the OpenSearch sink would index for ``lines``, by ``_id``."""
    return {
        doc_id: doc for doc_id, (_, doc) in documents_by_id(enriched([x.decode() for x in lines])).items()
    }


def compact(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` as a transformation returns it: the enrichment without null or empty members."""
    return document | {S.ENRICHMENT: without_empty(document[S.ENRICHMENT])}


def without_empty(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_empty(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [without_empty(v) for v in value]
    return value


# --- transform ---------------------------------------------------------------------------------------


def test_the_event_file_is_answered_ok_with_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")
    answered = handle(event_file("firehose.json"))
    assert [result for _, result, _ in answered] == ["Ok", "Ok"]
    for _, _, data in answered:
        [doc] = [orjson.loads(line) for line in data.splitlines()]
        assert {S.TIMESTAMP, S.ENRICHMENT, "webaclId", "httpRequest"} <= set(doc)


def test_transform_returns_each_records_documents_as_the_sink_would_index_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")
    lines = waf_lines("aws-docs-examples.ndjson") + waf_lines("sekoia-intake-formats.ndjson")
    two_in_one = lines[0] + b"\n" + lines[-1] + b"\n"  # a record may carry several lines
    answered = handle(firehose_event([*lines[1:-1], two_in_one]))

    expected = expected_documents(lines)
    returned = [
        [orjson.loads(doc) for doc in data.splitlines()] for _, result, data in answered if result == "Ok"
    ]
    assert len(returned) == len(lines) - 1  # every record Ok
    assert [len(docs) for docs in returned] == [1] * (len(lines) - 2) + [2]
    indexed = {json.dumps(compact(d), sort_keys=True) for d in expected.values()}
    assert {json.dumps(d, sort_keys=True) for docs in returned for d in docs} == indexed


def test_malformed_records_get_their_own_outcome_and_the_others_are_delivered(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")
    good = waf_lines()
    missing_webacl = json.dumps(json.loads(sample("malformed", "otel_missing_webaclid_log.json").read_text()))
    payloads: list[bytes | str] = [
        good[0],
        "not base64 at all!",  # its own outcome: an unreadable source
        b"not json",
        b"\x1f\x8b\x08garbage, not a gzip stream",
        gzip.compress(good[1] + b"\n" + good[2] + b"\n"),  # a gzip record is read like a gzip file
        b"",
        missing_webacl.encode(),
        good[3] + b"\n{cut off",  # one good line, one broken
        b"\xff\xfe" + good[4].decode().encode("utf-16-le"),  # UTF-16 with its byte-order mark
        good[5],
    ]
    answered = handle(firehose_event(payloads))
    assert [result for _, result, _ in answered] == [
        "Ok",
        "ProcessingFailed",  # Firehose's error output keeps it as it came
        "Dropped",  # invalid_json, in the dead-letter store
        "ProcessingFailed",  # damaged: what follows the damage is unreadable, Firehose keeps the original
        "Ok",
        "Dropped",  # nothing in it
        "Dropped",  # missing_field
        "Ok",  # its good line; the broken one is dead-lettered
        "Ok",
        "Ok",
    ]
    assert len(answered[4][2].splitlines()) == 2
    kinds = sorted(d["kind"] for d in dead_letters(environment / "dead"))
    assert kinds == ["damaged_input", "invalid_json", "invalid_json", "missing_field"]


def test_gzip_records_are_inflated_into_the_joined_source_up_to_one_batchs_bytes() -> None:
    lines = waf_lines()
    payloads = [gzip.compress(line) for line in lines] + [gzip.compress(lines[0])[:-4], lines[1]]
    budget = sum(len(line) for line in lines[:3])  # room for the first three only
    invocation = firehose.Invocation.read(
        KinesisFirehoseEvent(firehose_event(payloads)), inflate_bytes=budget
    )
    assert invocation.joined.keys == (record_id_of(0), record_id_of(1), record_id_of(2), record_id_of(7))
    assert invocation.joined.data == b"".join(line + b"\n" for line in [*lines[:3], lines[1]])
    # past the budget, and the truncated one: read like gzip files, one by one
    assert [r.record_id for r in invocation.alone] == [record_id_of(i) for i in (3, 4, 5, 6)]
    assert [r.data for r in invocation.alone] == payloads[3:7]


def test_an_empty_batch_is_answered_with_no_records(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")
    assert firehose.handler(firehose_event([]), Context()) == {"records": []}


def test_the_same_event_twice_gives_the_same_answer(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")
    event = firehose_event([*waf_lines(), b"not json"])
    first = handle(event)
    again = handle(event)
    assert first == again
    assert len(list((environment / "dead").glob("*.ndjson"))) == 1  # the dead letter is overwritten


def test_a_rejected_record_the_dead_letter_store_cannot_take_is_processing_failed(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")
    handle(firehose_event(waf_lines()[:1]))  # the cold start checked the folder could be written
    shutil.rmtree(environment / "dead", ignore_errors=True)
    (environment / "dead").write_text("a file where the folder was")
    answered = handle(firehose_event([waf_lines()[1], b"not json"]))
    assert [result for _, result, _ in answered] == ["Ok", "ProcessingFailed"]


def test_no_time_left_answers_every_record_processing_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")
    monkeypatch.setenv(ENV_DEADLINE_MARGIN, "5")
    answered = handle(firehose_event(waf_lines()), Context(millis=4_000))
    assert {result for _, result, _ in answered} == {"ProcessingFailed"}


def test_transform_also_writes_the_lake_when_one_is_named(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")
    monkeypatch.setenv(ENV_LAKE, str(environment / "lake"))
    answered = handle(firehose_event(waf_lines()))
    assert {result for _, result, _ in answered} == {"Ok"}
    assert scan_lake(environment / "lake").select(pl.len()).collect().item() == len(waf_lines())


# --- index -------------------------------------------------------------------------------------------


def index_mode(monkeypatch: pytest.MonkeyPatch, url: str, retry_seconds: float = 30) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "index")
    monkeypatch.setenv(ENV_OPENSEARCH_URL, url)
    monkeypatch.setenv(ENV_RETRY_SECONDS, str(retry_seconds))


def poisoned(line: bytes, i: int) -> bytes:
    """A record the fake cluster refuses for good (400 mapper_parsing_exception on ``poisonField``)."""
    return orjson.dumps(orjson.loads(line) | {"poisonField": i})


def test_index_mode_indexes_and_returns_the_records_as_waf_wrote_them_redacted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = list(dict.fromkeys(waf_lines("aws-docs-examples.ndjson") + waf_lines("wazuh.ndjson")))
    with FakeOpenSearch() as fake:
        index_mode(monkeypatch, fake.url)
        answered = handle(firehose_event(lines))
    redacted = enriched([x.decode() for x in lines])[S.EVENT_ORIGINAL].to_list()
    assert [(result, data) for _, result, data in answered] == [("Ok", f"{r}\n".encode()) for r in redacted]
    assert redacted != [x.decode() for x in lines]  # match details on a header are redacted
    assert {doc_id for _, doc_id in fake.documents} == set(expected_documents(lines))


def test_index_mode_partial_failures_answer_each_record_by_where_its_document_is(
    environment: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = [line for name in ("aws-waf-security-automations.ndjson",) for line in waf_lines(name)][:60]
    payloads = [poisoned(line, i) if i % 10 == 3 else line for i, line in enumerate(lines)]
    with FakeOpenSearch(Faults(seed=5, item_500=0.3, poison_field="poisonField")) as fake:
        index_mode(monkeypatch, fake.url, retry_seconds=1.05)  # one attempt: no time for a second
        answered = handle(firehose_event(payloads))
    indexed = {doc_id for _, doc_id in fake.documents}
    ids = {line: doc_id for line, doc_id in zip(payloads, _ids(payloads), strict=True)}
    by_result: dict[str, list[bytes]] = {"Ok": [], "Dropped": [], "ProcessingFailed": []}
    for (_, result, _), line in zip(answered, payloads, strict=True):
        by_result[result].append(line)
    assert all(len(found) > 0 for found in by_result.values()), {k: len(v) for k, v in by_result.items()}
    assert {ids[x] for x in by_result["Ok"]} <= indexed
    assert not {ids[x] for x in by_result["ProcessingFailed"]} & indexed  # 500: not stored, retry later
    assert by_result["Dropped"] == payloads[3::10]  # 400: dead-lettered
    assert len(dead_letters(environment / "dead")) == len(payloads[3::10])


def test_a_throttling_cluster_fails_every_record_for_firehose_to_keep(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with FakeOpenSearch(Faults(item_429=1.0)) as fake:
        index_mode(monkeypatch, fake.url, retry_seconds=1.5)
        answered = handle(firehose_event(waf_lines()))
    assert {result for _, result, _ in answered} == {"ProcessingFailed"}
    assert fake.documents == {}


def test_indexing_the_same_event_twice_leaves_the_same_documents(monkeypatch: pytest.MonkeyPatch) -> None:
    event = firehose_event(waf_lines("opensearch-dashboards-observability.ndjson"))
    with FakeOpenSearch() as fake:
        index_mode(monkeypatch, fake.url)
        first = handle(event)
        stored = dict(fake.documents)
        again = handle(event)
    assert first == again
    assert fake.documents == stored
    assert set(fake.index_count_by_key.values()) == {2}  # overwritten in place, never added


def test_a_slow_cluster_settles_what_it_can_and_fails_the_rest_before_the_deadline(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed = next(s for s in range(1000) if _draws(s, 2) == [False, True])  # fast, then slow
    monkeypatch.setenv(ENV_BULK_BYTES, "1")  # one request per record,
    monkeypatch.setenv(ENV_BULK_CONCURRENCY, "1")  # one at a time, in order
    monkeypatch.setenv(ENV_DEADLINE_MARGIN, "1")
    with FakeOpenSearch(Faults(seed=seed, slow=0.5, slow_seconds=30)) as fake:
        index_mode(monkeypatch, fake.url)
        started = time.monotonic()
        answered = handle(firehose_event(waf_lines()[:4]), Context(millis=4_000))
        elapsed = time.monotonic() - started
    assert [result for _, result, _ in answered] == ["Ok"] + ["ProcessingFailed"] * 3
    assert 2.5 < elapsed < 4.0  # the slow request waited until the deadline, within the remaining time
    assert len(fake.requests) == 2  # the rest were not sent: no time was left for them


def _draws(seed: int, n: int) -> list[bool]:
    """The fake's first ``n`` slow draws for ``seed`` at probability 0.5 (the only fault enabled)."""
    rng = random.Random(seed)
    return [rng.random() < 0.5 for _ in range(n)]


def _ids(lines: list[bytes]) -> list[str]:
    return [record_id(line) for line in lines]


# --- size ----------------------------------------------------------------------------------------------


def three_megabytes(lines: list[bytes]) -> list[bytes]:
    """Distinct records from ``lines`` (copies with their timestamp moved), ~3 MB in all."""
    out, seen, size, copy = [], set(), 0, 0
    while True:
        for line in lines:
            record = orjson.loads(line)
            record["timestamp"] += copy
            data = orjson.dumps(record) + b"\n"
            if size + len(data) > 3_000_000:
                return out
            if data not in seen:  # some samples are one event published twice
                seen.add(data)
                out.append(data)
                size += len(data)
        copy += 1


@pytest.mark.parametrize("corpus", ["generated", "samples"])
def test_a_full_three_megabyte_batch_answers_within_six_megabytes(
    corpus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "transform")
    monkeypatch.setenv(ENV_METRICS, "emf")
    if corpus == "generated":
        lines = list(iter_records(1300, seed=21))
    else:
        lines = list(dict.fromkeys(x for p in sorted(sample().glob("*.ndjson")) for x in waf_lines(p.name)))
    records = three_megabytes(lines)
    answered = handle(firehose_event(records))

    results = [result for _, result, _ in answered]
    assert "Dropped" not in results
    out, err = capsys.readouterr()
    over = [json.loads(x) for x in err.splitlines() if "response over budget" in x]
    if corpus == "generated":  # 1.35x the record and base64's 4/3: ~5.5 MB, all Ok
        assert set(results) == {"Ok"}
        assert over == []
    else:  # the samples' documents are larger than their records (~1.5x with the threat fields): the
        # last ~10% do not fit
        failed = results.count("ProcessingFailed")
        assert 0 < failed < len(records) // 8
        assert results == ["Ok"] * (len(results) - failed) + ["ProcessingFailed"] * failed
        [line] = over
        assert line["records"] == failed
        [emf] = [json.loads(x) for x in out.splitlines() if "RecordsOverBudget" in x]
        assert emf["RecordsOverBudget"] == [failed]


# --- secrets and configuration -------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["transform", "index"])
def test_no_planted_secret_leaves_in_a_response_a_log_line_or_a_dead_letter(
    mode: str, environment: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    lines = [with_secrets(line, i) for i, line in enumerate(waf_lines())]
    payloads: list[bytes | str] = [
        *lines,
        cut_inside_secret(lines[0]),  # not JSON: dead-lettered, redacted to the end
        gzip.compress(lines[1])[:-12],  # a gzip record cut short inside its data
        lines[2] + b"\n" + poisoned(lines[3], 1),  # refused by the cluster, dead-lettered
        base64.b64encode(lines[4]).decode() + "!",  # not base64: Firehose keeps it, nothing here
    ]
    assert all(planted_in(p) for p in payloads[:4])  # the check below could fail
    with FakeOpenSearch(Faults(poison_field="poisonField")) as fake:
        if mode == "index":
            index_mode(monkeypatch, fake.url)
            monkeypatch.setenv(ENV_LAKE, str(environment / "lake"))
        else:
            monkeypatch.setenv(ENV_FIREHOSE_MODE, mode)
        response = firehose.handler(firehose_event(payloads), Context())
    out, err = capfd.readouterr()
    returned = [data for _, result, data in decoded(response) if result == "Ok"]
    assert len(returned) >= len(lines)
    written = [f.read_bytes() for f in (environment / "dead").glob("*")]
    assert written
    if mode == "index":
        lake = scan_lake(environment / "lake").collect()
        written += [lake.write_ndjson().encode(), json.dumps(list(fake.documents.values())).encode()]
        written += [r.decompressed_body for r in fake.requests]
    assert leaks([json.dumps(response), *returned, out, err, *written]) == set()


def test_a_mode_is_required_and_each_mistake_is_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"^name a target: WAFLENS_LAKE DIR"):
        firehose.handler(firehose_event(waf_lines()), Context())
    monkeypatch.setenv(ENV_LAKE, "/tmp/lake-unused")
    runtime.reset()
    with pytest.raises(ConfigError, match=r"^WAFLENS_FIREHOSE_MODE must be transform or index in a Firehose"):
        firehose.handler(firehose_event(waf_lines()), Context())
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "tranform")
    runtime.reset()
    with pytest.raises(
        ConfigError, match=r"^WAFLENS_FIREHOSE_MODE must be transform or index, not 'tranform'$"
    ):
        firehose.handler(firehose_event(waf_lines()), Context())
    monkeypatch.setenv(ENV_FIREHOSE_MODE, "index")
    monkeypatch.delenv(ENV_LAKE)
    runtime.reset()
    with pytest.raises(ConfigError, match=r"^name a target"):  # index mode needs a target of its own
        firehose.handler(firehose_event(waf_lines()), Context())
