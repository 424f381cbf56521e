"""The loopback fake behaves like the parts of OpenSearch that waflens's bulk path relies on.

Every test drives opensearch-py's real transport (urllib3, gzip, retries) against the fake, so these
tests also pin down how that client reacts to each fault.
"""

from __future__ import annotations

import collections
import socket
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from opensearchpy import OpenSearch, helpers
from opensearchpy.exceptions import (
    ConflictError,
    ConnectionTimeout,
    NotFoundError,
    RequestError,
    TransportError,
)
from opensearchpy.exceptions import ConnectionError as OpenSearchConnectionError
from opensearchpy.helpers import BulkIndexError

from devtools.fake_opensearch import FakeOpenSearch, Faults
from tests.support.shared import require_shared

INDEX = "waf-2026.11.23"
Outcomes = dict[str, tuple[int, str | None]]  # _id -> (status, error type)


@pytest.fixture(scope="module")
def waf_records(shared_dir: Path) -> list[dict[str, Any]]:
    """Real WAF records (228 of them), reused round-robin as document sources."""
    samples = require_shared(shared_dir / "waf-samples" / "aws-waf-security-automations.ndjson")
    return [orjson.loads(line) for line in samples.read_bytes().splitlines() if line.strip()]


def _actions(
    records: list[dict[str, Any]], count: int, *, op_type: str = "index", index: str = INDEX, start: int = 0
) -> Iterator[dict[str, Any]]:
    for n in range(start, start + count):
        yield {
            "_op_type": op_type,
            "_index": index,
            "_id": f"waf-{n:06d}",
            "_source": records[n % len(records)],
        }


@contextmanager
def _serving(
    faults: Faults | None = None, **client_options: Any
) -> Iterator[tuple[FakeOpenSearch, OpenSearch]]:
    """A started fake and a compressing client pointed at it; both closed afterwards."""
    client_options.setdefault("timeout", 5)  # a hung fake fails the test instead of stalling the run
    with FakeOpenSearch(faults or Faults()) as fake:
        client = OpenSearch(hosts=[fake.url], http_compress=True, **client_options)
        try:
            yield fake, client
        finally:
            client.close()


def _outcomes(results: Iterable[tuple[bool, dict[str, Any]]]) -> Outcomes:
    outcomes: Outcomes = {}
    for _ok, result in results:
        (item,) = result.values()
        error = item.get("error")
        outcomes[item["_id"]] = (item["status"], error.get("type") if isinstance(error, dict) else None)
    return outcomes


def test_info_and_ping_describe_an_opensearch_2_19_cluster() -> None:
    with _serving() as (_fake, client):
        info = client.info()
        assert client.ping() is True
    assert info["version"]["distribution"] == "opensearch"
    assert info["version"]["number"] == "2.19.0"
    assert info["tagline"] == "The OpenSearch Project: https://opensearch.org/"


def test_bulk_of_20k_compressed_documents_stores_every_one_exactly_once(
    waf_records: list[dict[str, Any]],
) -> None:
    with _serving() as (fake, client):
        ok, errors = helpers.bulk(client, _actions(waf_records, 20_000), chunk_size=5_000)

    assert (ok, errors) == (20_000, [])
    assert len(fake.documents) == 20_000
    assert set(fake.index_count_by_key.values()) == {1}
    assert fake.documents[(INDEX, "waf-000230")] == waf_records[230 % len(waf_records)]
    bulk_requests = [r for r in fake.requests if r.path == "/_bulk"]
    assert len(bulk_requests) == 4
    assert all(r.headers["content-encoding"] == "gzip" for r in bulk_requests)
    decompressed = sum(len(r.decompressed_body) for r in bulk_requests)
    assert fake.bytes_received() == sum(len(r.body) for r in bulk_requests)
    assert fake.bytes_received() < decompressed / 5


def test_parallel_bulk_stores_every_document_from_concurrent_requests(
    waf_records: list[dict[str, Any]],
) -> None:
    with _serving() as (fake, client):
        results = list(
            helpers.parallel_bulk(client, _actions(waf_records, 2_000), thread_count=4, chunk_size=100)
        )

    assert all(ok for ok, _ in results)
    assert len(fake.documents) == 2_000
    assert len([r for r in fake.requests if r.path == "/_bulk"]) == 20


def test_injected_item_failures_come_back_with_their_statuses_and_are_not_stored(
    waf_records: list[dict[str, Any]],
) -> None:
    with _serving(Faults(seed=11, item_429=0.2, item_500=0.1)) as (fake, client):
        outcomes = _outcomes(
            helpers.streaming_bulk(client, _actions(waf_records, 1_000), raise_on_error=False, max_retries=0)
        )

    statuses = collections.Counter(status for status, _ in outcomes.values())
    assert set(statuses) == {201, 429, 500, 503}
    assert 150 < statuses[429] < 250
    assert 50 < statuses[500] + statuses[503] < 150
    assert {t for s, t in outcomes.values() if s == 429} == {"rejected_execution_exception"}
    assert {t for s, t in outcomes.values() if s == 503} == {"unavailable_shards_exception"}
    stored = {doc_id for _, doc_id in fake.documents}
    assert stored == {doc_id for doc_id, (status, _) in outcomes.items() if status == 201}


def test_the_same_seed_and_requests_give_the_same_outcomes(waf_records: list[dict[str, Any]]) -> None:
    runs = []
    for _ in range(2):
        with _serving(Faults(seed=5, item_429=0.3, item_500=0.1)) as (_fake, client):
            runs.append(
                _outcomes(helpers.streaming_bulk(client, _actions(waf_records, 300), raise_on_error=False))
            )

    assert runs[0] == runs[1]


def test_streaming_bulk_retries_throttled_items_but_hands_back_5xx_items(
    waf_records: list[dict[str, Any]],
) -> None:
    faults = Faults(seed=3, item_429=0.3, item_500=0.1)
    with _serving(faults) as (fake, client):
        results = helpers.streaming_bulk(
            client, _actions(waf_records, 500), raise_on_error=False, max_retries=10, initial_backoff=0
        )
        outcomes = _outcomes(results)

    statuses = collections.Counter(status for status, _ in outcomes.values())
    assert 429 not in statuses  # opensearch-py resent every throttled item ...
    assert statuses[500] + statuses[503] > 0  # ... but never a 5xx one: that is left to waflens
    assert len(fake.documents) == statuses[201]
    assert set(fake.index_count_by_key.values()) == {1}  # failed items were never stored, so no duplicates


def test_streaming_bulk_gives_up_on_throttled_items_when_raising_on_error(
    waf_records: list[dict[str, Any]],
) -> None:
    # With the default raise_on_error=True the helper raises before its 429 retry loop ever runs.
    with _serving(Faults(seed=1, item_429=0.3)) as (fake, client), pytest.raises(BulkIndexError) as raised:
        list(helpers.streaming_bulk(client, _actions(waf_records, 100), max_retries=5, initial_backoff=0))

    assert len(fake.requests) == 1
    assert {next(iter(error.values()))["status"] for error in raised.value.errors} == {429}


def test_poison_documents_are_rejected_with_mapper_parsing_exception_every_time(
    waf_records: list[dict[str, Any]],
) -> None:
    def with_new_field(actions: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        # Every tenth document carries a field AWS added later, which the live mapping cannot take.
        for n, action in enumerate(actions):
            source = {**action["_source"], "ja4Fingerprint": "t13d1516h2_8daaf6152771"}
            yield {**action, "_source": source} if n % 10 == 0 else action

    with _serving(Faults(poison_field="ja4Fingerprint")) as (fake, client):
        first = _outcomes(
            helpers.streaming_bulk(client, with_new_field(_actions(waf_records, 100)), raise_on_error=False)
        )
        again = _outcomes(
            helpers.streaming_bulk(client, with_new_field(_actions(waf_records, 100)), raise_on_error=False)
        )
        response = client.bulk(body=[{"index": {"_index": INDEX, "_id": "p"}}, {"ja4Fingerprint": "x"}])

    poisoned = {f"waf-{n:06d}" for n in range(0, 100, 10)}
    for outcomes in (first, again):
        assert {doc_id for doc_id, (status, _) in outcomes.items() if status == 400} == poisoned
        assert {outcomes[doc_id][1] for doc_id in poisoned} == {"mapper_parsing_exception"}
    assert response["items"][0]["index"]["error"]["reason"].startswith(
        "failed to parse field [ja4Fingerprint] of type [long]"
    )
    assert "in document with id 'p'" in response["items"][0]["index"]["error"]["reason"]
    assert not poisoned & {doc_id for _, doc_id in fake.documents}
    assert len(fake.documents) == 90


def test_oversized_bulk_body_gets_413_and_nothing_is_stored(waf_records: list[dict[str, Any]]) -> None:
    with _serving(Faults(max_body_bytes=64 * 1024)) as (fake, client):
        with pytest.raises(TransportError) as raised:
            helpers.bulk(client, _actions(waf_records, 500), max_chunk_bytes=10 * 1024 * 1024)
        stored_after_413 = len(fake.documents)
        # The limit applies to the decompressed body, which is also what max_chunk_bytes measures.
        ok, _ = helpers.bulk(client, _actions(waf_records, 500), max_chunk_bytes=64 * 1024)

    assert raised.value.status_code == 413
    assert raised.value.error == "content_too_long_exception"
    assert stored_after_413 == 0
    assert ok == 500
    assert len(fake.documents) == 500


def test_create_on_an_existing_id_conflicts_with_409(waf_records: list[dict[str, Any]]) -> None:
    with _serving() as (fake, client):
        helpers.bulk(client, _actions(waf_records, 1))
        outcomes = _outcomes(
            helpers.streaming_bulk(client, _actions(waf_records, 2, op_type="create"), raise_on_error=False)
        )

    assert outcomes == {"waf-000000": (409, "version_conflict_engine_exception"), "waf-000001": (201, None)}
    assert fake.index_count_by_key[(INDEX, "waf-000000")] == 1


def test_delete_reports_a_missing_document_as_404_without_an_error(waf_records: list[dict[str, Any]]) -> None:
    with _serving() as (fake, client):
        helpers.bulk(client, _actions(waf_records, 1))
        response = client.bulk(
            body=[
                {"delete": {"_index": INDEX, "_id": "waf-000000"}},
                {"delete": {"_index": INDEX, "_id": "gone"}},
            ]
        )

    assert response["errors"] is False
    assert [(i["delete"]["result"], i["delete"]["status"]) for i in response["items"]] == [
        ("deleted", 200),
        ("not_found", 404),
    ]
    assert fake.documents == {}


def test_connection_reset_after_indexing_surfaces_as_connection_error(
    waf_records: list[dict[str, Any]],
) -> None:
    with (
        _serving(Faults(reset=1.0), max_retries=0) as (fake, client),
        pytest.raises(OpenSearchConnectionError) as raised,
    ):
        helpers.bulk(client, _actions(waf_records, 50))

    assert not isinstance(raised.value, ConnectionTimeout)
    assert "IncompleteRead" in str(raised.value)
    assert len(fake.documents) == 50  # the cluster did the work; only the answer was lost
    assert [r.aborted for r in fake.requests] == [True]


def test_transport_retries_resets_and_ids_make_the_replay_idempotent(
    waf_records: list[dict[str, Any]],
) -> None:
    # Default client: urllib3 errors are retried up to max_retries=3 times, resending the whole chunk.
    with _serving(Faults(seed=9, reset=0.3)) as (fake, client):
        ok, errors = helpers.bulk(client, _actions(waf_records, 500), chunk_size=50)

    assert (ok, errors) == (500, [])
    assert sum(r.aborted for r in fake.requests) > 0
    assert max(fake.index_count_by_key.values()) > 1  # written more than once ...
    assert len(fake.documents) == 500  # ... yet one document per _id


def test_slow_answer_times_out_the_client_after_the_documents_were_stored(
    waf_records: list[dict[str, Any]],
) -> None:
    started = time.monotonic()
    with (
        # the client gives up after 1.5 s: long enough for a loaded machine's server thread to have
        # stored the documents, far short of the 10 s answer
        _serving(Faults(slow=1.0, slow_seconds=10.0), timeout=1.5) as (fake, client),
        pytest.raises(ConnectionTimeout),
    ):
        helpers.bulk(client, _actions(waf_records, 20))

    assert len(fake.requests) == 1  # retry_on_timeout defaults to False
    assert len(fake.documents) == 20
    assert time.monotonic() - started < 6.0  # leaving the context cut the 10 s sleep short


def test_throttling_storm_answers_429_until_it_passes(waf_records: list[dict[str, Any]]) -> None:
    with _serving(Faults(fail_first_n_requests=2)) as (fake, client):
        with pytest.raises(TransportError) as raised:
            client.bulk(body=[{"index": {"_index": INDEX, "_id": "x"}}, {"a": 1}])
        # streaming_bulk resends a whole-request 429 like an item 429, when max_retries allows it.
        ok, _ = helpers.bulk(client, _actions(waf_records, 10), max_retries=2, initial_backoff=0)

    assert raised.value.status_code == 429
    assert raised.value.error == "rejected_execution_exception"
    assert ok == 10
    assert [r.status for r in fake.requests] == [429, 429, 200]
    assert (INDEX, "x") not in fake.documents


def test_request_level_5xx_stores_nothing_and_the_transport_retries_only_502_and_503(
    waf_records: list[dict[str, Any]],
) -> None:
    with _serving(Faults(seed=8, request_500=1.0)) as (fake, client), pytest.raises(TransportError) as raised:
        helpers.bulk(client, _actions(waf_records, 10))

    assert [r.status for r in fake.requests] == [502, 503, 500]
    assert raised.value.status_code == 500
    assert fake.documents == {}


def test_index_in_the_path_and_missing_ids_are_filled_in_like_the_server() -> None:
    with _serving() as (fake, client):
        response = client.bulk(index=INDEX, body=[{"index": {}}, {"action": "BLOCK"}])

    (item,) = response["items"]
    assert (item["index"]["_index"], item["index"]["result"]) == (INDEX, "created")
    assert fake.documents == {(INDEX, item["index"]["_id"]): {"action": "BLOCK"}}
    assert fake.requests[-1].path == f"/{INDEX}/_bulk"
    assert fake.bytes_received() == len(fake.requests[-1].body)  # the default prefix counts /{index}/_bulk


def test_malformed_ndjson_is_rejected_with_400() -> None:
    with _serving() as (fake, client), pytest.raises(RequestError) as raised:
        client.bulk(body='{"index": {"_index": "waf"}}\n{"a": 1}\nnot json\n')

    assert raised.value.error == "illegal_argument_exception"
    assert fake.documents == {}


def test_index_template_put_get_delete_round_trip() -> None:
    template = {
        "index_patterns": ["waf-*"],
        "template": {"settings": {"number_of_shards": 1}, "mappings": {"dynamic": "false"}},
        "priority": 100,
    }
    with _serving() as (fake, client):
        assert client.indices.put_index_template(name="waflens", body=template) == {"acknowledged": True}
        fetched = client.indices.get_index_template(name="waflens")
        exists = client.indices.exists_index_template(name="waflens")
        client.indices.delete_index_template(name="waflens")
        with pytest.raises(NotFoundError):
            client.indices.get_index_template(name="waflens")
        with pytest.raises(RequestError):
            client.indices.put_index_template(name="broken", body={"template": {}})

    assert fetched == {"index_templates": [{"name": "waflens", "index_template": template}]}
    assert exists is True
    assert fake.templates == {}


def test_ism_policy_round_trip_and_seq_no_guard() -> None:
    policy = {"policy": {"description": "keep WAF logs 30 days", "default_state": "hot", "states": []}}
    updated = {"policy": {**policy["policy"], "description": "keep WAF logs 90 days"}}
    with _serving() as (fake, client):
        ism = client.plugins.index_management
        created = ism.put_policy(policy="waf-retention", body=policy)
        fetched = ism.get_policy(policy="waf-retention")
        with pytest.raises(ConflictError):  # updates must name the version they replace
            ism.put_policy(policy="waf-retention", body=updated)
        with pytest.raises(ConflictError):
            ism.put_policy(
                policy="waf-retention", body=updated, params={"if_seq_no": 99, "if_primary_term": 1}
            )
        guard = {"if_seq_no": fetched["_seq_no"], "if_primary_term": fetched["_primary_term"]}
        replaced = ism.put_policy(policy="waf-retention", body=updated, params=guard)
        with pytest.raises(NotFoundError):
            ism.get_policy(policy="absent")

    assert created["_version"] == 1
    assert fetched["policy"]["description"] == "keep WAF logs 30 days"
    assert fetched["policy"]["policy_id"] == "waf-retention"
    assert (replaced["_version"], replaced["_seq_no"]) == (2, fetched["_seq_no"] + 1)
    assert fake.ism_policies == {"waf-retention": updated}


def test_count_and_search_read_back_across_index_patterns(waf_records: list[dict[str, Any]]) -> None:
    with _serving() as (_fake, client):
        helpers.bulk(client, _actions(waf_records, 30, index="waf-2026.11.23"))
        helpers.bulk(client, _actions(waf_records, 20, index="waf-2026.11.24", start=30))
        client.indices.refresh(index="waf-*")
        count = client.count(index="waf-*")["count"]
        one_day = client.count(index="waf-2026.11.24")["count"]
        page = client.search(index="waf-*", body={"query": {"match_all": {}}, "size": 7})
        by_id = client.search(index="waf-*", body={"query": {"ids": {"values": ["waf-000031"]}}})
        with pytest.raises(NotFoundError):
            client.count(index="waf-1999.01.01")
        blocked = client.count(index="waf-*", body={"query": {"term": {"action": "BLOCK"}}})["count"]
        with pytest.raises(RequestError):  # the fake refuses queries it cannot evaluate, never guesses
            client.search(index="waf-*", body={"query": {"fuzzy": {"action": "BLOK"}}})

    assert (count, one_day) == (50, 20)
    assert blocked == sum(r["action"] == "BLOCK" for r in waf_records[:50])
    assert page["hits"]["total"]["value"] == 50
    assert len(page["hits"]["hits"]) == 7
    assert [hit["_id"] for hit in by_id["hits"]["hits"]] == ["waf-000031"]
    assert by_id["hits"]["hits"][0]["_source"] == waf_records[31]


def test_unknown_endpoint_answers_404_with_an_opensearch_error() -> None:
    with _serving() as (fake, client), pytest.raises(NotFoundError) as raised:
        client.transport.perform_request("GET", "/_cat/indices")

    assert raised.value.error == "resource_not_found_exception"
    assert fake.requests[-1].status == 404


def test_leaving_the_context_stops_the_server() -> None:
    with _serving() as (fake, client):
        client.info()  # leaves a keep-alive connection open for __exit__ to cut
        port = int(fake.url.rsplit(":", 1)[1])

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
