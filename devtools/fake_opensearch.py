"""A fault-injecting fake of OpenSearch's REST API, served on loopback for functional tests and benchmarks.

No OpenSearch server can run on the development machines (install-notes §6), so tests drive
opensearch-py's real transport against this standard-library server. It speaks enough of the API for
``helpers.bulk`` / ``streaming_bulk`` / ``parallel_bulk``, index templates, ISM policies, read-back
(``_count``, ``_search``, ``_refresh``) and the plugin APIs setup uses (``devtools/fake_plugins.py``),
and injects faults from a seeded RNG so a failing run replays.

Queries: the DSL subset waflens sends (``devtools/fake_search.py``). Not modelled: mappings and
analysis. The integration tier covers those against a real cluster (``OPENSEARCH_URL``).
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import itertools
import random
import socket
import sys
import threading
import time
from dataclasses import dataclass
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

from devtools import fake_search
from devtools.fake_plugins import FakePlugins

# JSON as it crosses the wire; this module is the adapter, so Any stops here.
JsonObject = dict[str, Any]
DocKey = tuple[str, str]

_PRIMARY_TERM = 1
_SHARDS = {"total": 2, "successful": 2, "failed": 0}
_INFO: JsonObject = {
    "name": "fake-node-0",
    "cluster_name": "waflens-fake",
    "cluster_uuid": "fAkEcLuStEr0UuId00000A",
    "version": {
        "distribution": "opensearch",
        "number": "2.19.0",
        "build_type": "tar",
        "build_hash": "0000000000000000000000000000000000000000",
        "build_date": "2025-02-01T00:00:00.000000Z",
        "build_snapshot": False,
        "lucene_version": "9.12.1",
        "minimum_wire_compatibility_version": "7.10.0",
        "minimum_index_compatibility_version": "7.0.0",
    },
    "tagline": "The OpenSearch Project: https://opensearch.org/",
}
# The ISM plugin stamps policy_id, last_updated_time and its config schema version onto every stored
# policy, so waflens must ignore them when comparing; the number itself is the fake's choice.
_ISM_SCHEMA_VERSION = 21


@dataclass(frozen=True)
class Faults:
    """What the fake gets wrong, and how often. Every draw comes from ``random.Random(seed)``."""

    seed: int = 0
    item_429: float = 0.0
    item_500: float = 0.0
    poison_field: str | None = None
    throttled_ids: frozenset[str] = frozenset()  # items with these document ids always answer 429
    max_body_bytes: int | None = None
    request_500: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 2.0
    reset: float = 0.0
    fail_first_n_requests: int = 0
    # OpenSearch strips its class-name prefix (OpenSearchException.getExceptionName), so its 429s say
    # "rejected_execution_exception"; set "es_rejected_execution_exception" to mimic legacy Elasticsearch.
    rejection_type: str = "rejected_execution_exception"

    def __post_init__(self) -> None:
        for name in ("item_429", "item_500", "request_500", "slow", "reset"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"Faults.{name} is a probability and must be within [0, 1]")
        if self.item_429 + self.item_500 > 1.0:
            raise ValueError("Faults.item_429 + Faults.item_500 must not exceed 1")


_NO_FAULTS = Faults()


@dataclass(frozen=True)
class RequestRecord:
    """One HTTP request as the fake received it, and the status it answered with."""

    method: str
    path: str  # without the query string
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes  # as received on the wire: gzip bytes when the client compressed
    decompressed_body: bytes
    status: int
    timestamp: float  # time.time() on arrival
    aborted: bool = False  # the connection was cut mid-response (Faults.reset)


@dataclass(frozen=True)
class _Reply:
    status: int
    body: JsonObject | None
    delay: float = 0.0
    reset: bool = False


@dataclass(frozen=True)
class _BulkOp:
    op: str
    index: str
    doc_id: str | None
    source: JsonObject | None
    source_error: str | None


class _BadRequest(Exception):
    def __init__(self, reason: str, error_type: str = "illegal_argument_exception") -> None:
        super().__init__(reason)
        self.error_type = error_type


def _error(status: int, error_type: str, reason: str, **extra: object) -> _Reply:
    """An error answer shaped like OpenSearch's ``{"error": {...root_cause...}, "status": n}``."""
    cause: JsonObject = {"type": error_type, "reason": reason, **extra}
    return _Reply(status, {"error": {"root_cause": [cause], **cause}, "status": status})


def _mapping_error(field: str, value: object, doc_id: str) -> JsonObject:
    """The 400 a cluster gives when a field's value cannot be parsed as its mapped type."""
    preview = (value if isinstance(value, str) else str(orjson.dumps(value), "utf-8"))[:64]
    return {
        "type": "mapper_parsing_exception",
        "reason": f"failed to parse field [{field}] of type [long] in document with id '{doc_id}'. "
        f"Preview of field's value: '{preview}'",
        "caused_by": {"type": "illegal_argument_exception", "reason": f'For input string: "{preview}"'},
    }


def _parse_bulk(body: bytes, default_index: str | None) -> list[_BulkOp]:
    """Split an ndjson ``_bulk`` body into operations; malformed action lines fail the whole request."""
    lines = iter(enumerate((raw for raw in body.split(b"\n") if raw.strip()), start=1))
    ops: list[_BulkOp] = []
    for number, raw in lines:
        try:
            action = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _BadRequest(f"Malformed action/metadata line [{number}]: {exc}") from exc
        if not isinstance(action, dict) or len(action) != 1:
            raise _BadRequest(f"Malformed action/metadata line [{number}], expected a single action")
        op, meta = next(iter(action.items()))
        if op not in ("index", "create", "delete") or not isinstance(meta, dict):
            raise _BadRequest(
                f"Malformed action/metadata line [{number}]: the fake supports "
                f"[create, delete, index], found [{op}]"
            )
        index = meta.get("_index", default_index)
        if not index:
            raise _BadRequest(
                "Validation Failed: 1: index is missing;", "action_request_validation_exception"
            )
        doc_id = None if meta.get("_id") is None else str(meta["_id"])
        if op == "delete":
            if doc_id is None:
                raise _BadRequest(
                    "Validation Failed: 1: id is missing;", "action_request_validation_exception"
                )
            ops.append(_BulkOp(op, index, doc_id, None, None))
            continue
        source_line = next(lines, None)
        if source_line is None:
            raise _BadRequest(f"action [{op}] on line [{number}] has no source line")
        ops.append(_BulkOp(op, index, doc_id, *_parse_source(source_line[1])))
    return ops


def _parse_source(raw: bytes) -> tuple[JsonObject | None, str | None]:
    # Real clusters parse the source on the shard, so a bad one fails its item, not the request.
    try:
        source = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return None, f"failed to parse: {exc}"
    if not isinstance(source, dict):
        return None, "failed to parse, document is empty or not an object"
    return source, None


def _matches(index: str, patterns: list[str]) -> bool:
    return any(fnmatchcase(index, pattern) for pattern in patterns)


class FakeOpenSearch:
    """A loopback OpenSearch lookalike; use as a context manager, point opensearch-py at ``url``."""

    def __init__(self, faults: Faults = _NO_FAULTS) -> None:
        self.faults = faults
        self.documents: dict[DocKey, JsonObject] = {}
        self.index_count_by_key: collections.Counter[DocKey] = collections.Counter()
        self.requests: list[RequestRecord] = []
        self.templates: dict[str, JsonObject] = {}
        self.ism_policies: dict[str, JsonObject] = {}
        self.plugins = FakePlugins()  # security, alerting and anomaly-detection APIs
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._rng = random.Random(faults.seed)
        self._bulk_requests = 0
        self._versions: collections.Counter[DocKey] = collections.Counter()
        self._seq_nos: collections.Counter[str] = collections.Counter()
        self._indices: set[str] = set()
        self._auto_ids = itertools.count()
        self._ism_meta: dict[str, tuple[int, int]] = {}  # policy id -> (_version, _seq_no)
        self._ism_seq_no = itertools.count()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._errors: list[BaseException] = []

    # -- lifecycle -------------------------------------------------------------------------------

    def __enter__(self) -> FakeOpenSearch:
        """Start serving on an ephemeral loopback port in a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeOpenSearch is single-use; create a new one")
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-opensearch",
            daemon=True,
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving, cut open keep-alive connections, and surface any bug the fake hit."""
        assert self._server is not None
        assert self._thread is not None
        self._stopping.set()  # wakes handlers sleeping for Faults.slow
        self._server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may have closed it already
                connection.shutdown(socket.SHUT_RDWR)
        self._server.server_close()
        self._thread.join(timeout=5)
        if self._errors and exc[0] is None:
            raise AssertionError(f"the fake OpenSearch failed internally: {self._errors!r}")

    @property
    def url(self) -> str:
        """Base URL of the running server, e.g. ``http://127.0.0.1:54321``."""
        if self._server is None:
            raise RuntimeError("enter the FakeOpenSearch context before asking for its url")
        return f"http://127.0.0.1:{self._server.server_port}"

    def bytes_received(self, path_prefix: str = "/_bulk") -> int:
        """Wire bytes (compressed when gzip) of requests whose path starts or ends with ``path_prefix``.

        Matching the end too makes the default count ``/{index}/_bulk`` as well as ``/_bulk``.
        """
        with self._lock:
            return sum(
                len(r.body)
                for r in self.requests
                if r.path.startswith(path_prefix) or r.path.endswith(path_prefix)
            )

    # -- bookkeeping used by the handler ---------------------------------------------------------

    def _record(self, record: RequestRecord) -> None:
        with self._lock:
            self.requests.append(record)

    def _track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _record_error(self, error: BaseException) -> None:
        with self._lock:
            self._errors.append(error)

    def _chance(self, probability: float) -> bool:
        # Draw only for enabled faults, so switching one on does not reshuffle the others' sequence.
        return probability > 0.0 and self._rng.random() < probability

    # -- routing ---------------------------------------------------------------------------------

    def handle(self, method: str, path: str, query: dict[str, str], body: bytes) -> _Reply:
        """Answer one request; the HTTP plumbing lives in ``_Handler``."""
        parts = [unquote(part) for part in path.split("/") if part]
        target = parts[0] if len(parts) == 2 else None
        match parts:
            case []:
                reply = self._only(method, ("GET", "HEAD")) or _Reply(200, _INFO)
            case ["_index_template", *name] if len(name) <= 1:
                reply = self._template(method, name[0] if name else "*", body, query)
            case ["_plugins", "_ism", "policies", policy_id]:
                reply = self._ism(method, policy_id, body, query)
            case ["_plugins", "_security" | "_alerting" | "_anomaly_detection", *_]:
                reply = _Reply(*self.plugins.handle(method, parts, query, body))
            case ["_bulk"] | [_, "_bulk"]:
                reply = self._only(method, ("POST", "PUT")) or self._bulk(target, body)
            case ["_count"] | [_, "_count"]:
                reply = self._only(method, ("GET", "POST")) or self._read(target, body, query, count=True)
            case ["_search"] | [_, "_search"]:
                reply = self._only(method, ("GET", "POST")) or self._read(target, body, query, count=False)
            case ["_refresh"] | [_, "_refresh"]:
                # Writes are visible at once here; refresh exists so integration tests run unchanged.
                reply = self._only(method, ("GET", "POST")) or _Reply(200, {"_shards": _SHARDS})
            case _:
                reason = f"no handler found for uri [{path}] and method [{method}]"
                reply = _error(404, "resource_not_found_exception", reason)
        return reply

    @staticmethod
    def _only(method: str, allowed: tuple[str, ...]) -> _Reply | None:
        if method in allowed:
            return None
        return _error(
            405, "method_not_allowed", f"Incorrect HTTP method [{method}], allowed: {list(allowed)}"
        )

    # -- _bulk -----------------------------------------------------------------------------------

    def _bulk(self, default_index: str | None, body: bytes) -> _Reply:
        started = time.perf_counter()
        faults = self.faults
        with self._lock:
            self._bulk_requests += 1
            if self._bulk_requests <= faults.fail_first_n_requests:
                return _error(
                    429,
                    faults.rejection_type,
                    "rejected execution of coordinating operation "
                    f"[coordinating_operation_bytes={len(body)}, max_coordinating_and_primary_bytes=0]",
                )
            if faults.max_body_bytes is not None and len(body) > faults.max_body_bytes:
                # The type is the fake's own label: Netty answers 413 with no body, AWS with {"Message": ...}.
                return _error(
                    413,
                    "content_too_long_exception",
                    f"request body of {len(body)} bytes exceeds {faults.max_body_bytes} bytes",
                )
            try:
                ops = _parse_bulk(body, default_index)
            except _BadRequest as exc:
                return _error(400, exc.error_type, str(exc))
            if self._chance(faults.request_500):
                return self._request_failure(self._rng.choice((500, 502, 503)))
            items = [{op.op: self._apply(op)} for op in ops]
            delay = faults.slow_seconds if self._chance(faults.slow) else 0.0
            reset = self._chance(faults.reset)
        errors = any("error" in item for entry in items for item in entry.values())
        took = int((time.perf_counter() - started) * 1000)
        return _Reply(200, {"took": took, "errors": errors, "items": items}, delay=delay, reset=reset)

    @staticmethod
    def _request_failure(status: int) -> _Reply:
        # 502 never comes from OpenSearch itself but from a proxy or load balancer in front of it.
        error_type, reason = {
            500: ("exception", "Internal error"),
            502: ("bad_gateway", "the upstream node closed the connection"),
            503: ("cluster_manager_not_discovered_exception", "no cluster-manager node is available"),
        }[status]
        return _error(status, error_type, reason)

    def _item_fault(self) -> int | None:
        item_429, item_500 = self.faults.item_429, self.faults.item_500
        if item_429 + item_500 <= 0.0:
            return None
        draw = self._rng.random()
        if draw < item_429:
            return 429
        if draw < item_429 + item_500:
            return self._rng.choice((500, 503))
        return None

    def _apply(self, op: _BulkOp) -> JsonObject:
        """Decide and apply one bulk item (caller holds the lock); failed items are never stored."""
        fault = self._item_fault()  # drawn for every item so the sequence depends only on item order
        doc_id = op.doc_id if op.doc_id is not None else f"fakeautoid{next(self._auto_ids):010d}"
        rejection = self._rejection(op, doc_id, fault)
        if rejection is not None:
            status, cause = rejection
            return {
                "_index": op.index,
                "_id": doc_id,
                "status": status,
                "error": {**cause, "index": op.index},
            }
        key = (op.index, doc_id)
        self._indices.add(op.index)
        if op.op == "delete":
            # A missing document is no "error" (errors stays false), yet opensearch-py counts its 404 failed.
            found = self.documents.pop(key, None) is not None
            return self._written(key, "deleted" if found else "not_found", 200 if found else 404)
        assert op.source is not None
        existed = key in self.documents
        self.documents[key] = op.source
        self.index_count_by_key[key] += 1
        return self._written(key, "updated" if existed else "created", 200 if existed else 201)

    def _rejection(self, op: _BulkOp, doc_id: str, fault: int | None) -> tuple[int, JsonObject] | None:
        """Why an item fails, most permanent cause first, or None when it succeeds."""
        poison = self.faults.poison_field
        if op.source_error is not None:
            return 400, {"type": "mapper_parsing_exception", "reason": op.source_error}
        if poison is not None and op.source is not None and poison in op.source:
            return 400, _mapping_error(poison, op.source[poison], doc_id)
        if doc_id in self.faults.throttled_ids:
            fault = 429
        if fault is not None:
            return fault, self._fault_error(fault, op.index)
        key = (op.index, doc_id)
        if op.op == "create" and key in self.documents:
            current = self._versions[key]
            reason = f"[{doc_id}]: version conflict, document already exists (current version [{current}])"
            return 409, {"type": "version_conflict_engine_exception", "reason": reason}
        return None

    def _written(self, key: DocKey, result: str, status: int) -> JsonObject:
        self._versions[key] += 1
        seq_no = self._seq_nos[key[0]]
        self._seq_nos[key[0]] += 1
        return {
            "_index": key[0],
            "_id": key[1],
            "_version": self._versions[key],
            "result": result,
            "_shards": _SHARDS,
            "_seq_no": seq_no,
            "_primary_term": _PRIMARY_TERM,
            "status": status,
        }

    def _fault_error(self, status: int, index: str) -> JsonObject:
        if status == 429:
            return {
                "type": self.faults.rejection_type,
                "reason": "rejected execution of primary operation "
                f"[shard_detail=[{index}][0][P], shard_max_coordinating_and_primary_bytes=0]",
            }
        if status == 503:
            return {
                "type": "unavailable_shards_exception",
                "reason": f"[{index}][0] primary shard is not active "
                f"Timeout: [1m], request: [BulkShardRequest [[{index}][0]] containing [1] requests]",
            }
        return {"type": "exception", "reason": f"[{index}][0] failed to execute bulk item (index)"}

    # -- read-back -------------------------------------------------------------------------------

    def _read(self, target: str | None, body: bytes, query: dict[str, str], *, count: bool) -> _Reply:
        try:
            request: JsonObject = orjson.loads(body) if body.strip() else {}
        except orjson.JSONDecodeError as exc:
            return _error(400, "parse_exception", f"request body is not JSON: {exc}")
        patterns = ["*" if p == "_all" else p for p in (target or "_all").split(",")]
        with self._lock:
            missing = [p for p in patterns if "*" not in p and p not in self._indices]
            if missing:
                return _error(
                    404, "index_not_found_exception", f"no such index [{missing[0]}]", index=missing[0]
                )
            hits = sorted((key, doc) for key, doc in self.documents.items() if _matches(key[0], patterns))
        try:
            hits, sort_values = fake_search.search(hits, request)
        except (fake_search.UnsupportedQuery, KeyError, TypeError, ValueError) as exc:
            return _error(400, "parsing_exception", f"the fake cannot run this query: {exc}")
        if count:
            return _Reply(200, {"count": len(hits), "_shards": {**_SHARDS, "skipped": 0}})
        start = int(query.get("from") or request.get("from") or 0)
        size = int(query.get("size") or request.get("size", 10))
        page = [
            {"_index": k[0], "_id": k[1], "_score": 1.0, "_source": doc}
            | ({} if sort_values is None else {"sort": sort_values[start + n]})
            for n, (k, doc) in enumerate(hits[start : start + size])
        ]
        return _Reply(
            200,
            {
                "took": 0,
                "timed_out": False,
                "_shards": {**_SHARDS, "skipped": 0},
                "hits": {"total": {"value": len(hits), "relation": "eq"}, "max_score": 1.0, "hits": page},
            },
        )

    # -- cluster configuration -------------------------------------------------------------------

    def _template(self, method: str, name: str, body: bytes, query: dict[str, str]) -> _Reply:
        with self._lock:
            if method in ("PUT", "POST"):
                return self._put_template(name, _json_object(body), query)
            found = sorted(n for n in self.templates if _matches(n, name.split(",")))
            if not found and ("*" not in name or method == "HEAD"):
                return _error(
                    404, "resource_not_found_exception", f"index template matching [{name}] not found"
                )
            if method == "HEAD":
                return _Reply(200, None)
            if method == "DELETE":
                for n in found:
                    del self.templates[n]
                return _Reply(200, {"acknowledged": True})
            return _Reply(
                200, {"index_templates": [{"name": n, "index_template": self.templates[n]} for n in found]}
            )

    def _put_template(self, name: str, template: JsonObject | None, query: dict[str, str]) -> _Reply:
        if template is None or not template.get("index_patterns"):
            return _error(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: index patterns are missing;",
            )
        if query.get("create") == "true" and name in self.templates:
            return _error(400, "illegal_argument_exception", f"index template [{name}] already exists")
        self.templates[name] = template
        return _Reply(200, {"acknowledged": True})

    def _ism(self, method: str, policy_id: str, body: bytes, query: dict[str, str]) -> _Reply:
        not_allowed = self._only(method, ("GET", "PUT", "DELETE"))
        if not_allowed is not None:
            return not_allowed
        with self._lock:
            if method == "PUT":
                return self._put_policy(policy_id, _json_object(body), query)
            if policy_id not in self.ism_policies:
                return _error(404, "status_exception", "Policy not found")
            version, seq_no = self._ism_meta[policy_id]
            meta = {"_id": policy_id, "_version": version, "_seq_no": seq_no, "_primary_term": _PRIMARY_TERM}
            if method == "DELETE":
                del self.ism_policies[policy_id], self._ism_meta[policy_id]
                return _Reply(200, {**meta, "_index": ".opendistro-ism-config", "result": "deleted"})
            return _Reply(200, {**meta, "policy": self._stored_policy(policy_id)})

    def _put_policy(self, policy_id: str, body: JsonObject | None, query: dict[str, str]) -> _Reply:
        if body is None or not isinstance(body.get("policy"), dict):
            return _error(400, "illegal_argument_exception", "Required [policy] object is missing")
        current = self._ism_meta.get(policy_id)
        if_seq_no, if_primary_term = query.get("if_seq_no"), query.get("if_primary_term")
        required = (
            None if if_seq_no is None or if_primary_term is None else (int(if_seq_no), int(if_primary_term))
        )
        conflict = "version_conflict_engine_exception"
        if required is None and current is not None:
            # The plugin indexes with op_type=create unless both are given, so updates need them:
            # TransportIndexPolicyAction.putPolicy in opensearch-project/index-management.
            reason = (
                f"[{policy_id}]: version conflict, document already exists (current version [{current[0]}])"
            )
            return _error(409, conflict, reason)
        if required is not None and (current is None or required != (current[1], _PRIMARY_TERM)):
            found = (
                "no document was found" if current is None else f"current document has seqNo [{current[1]}]"
            )
            reason = f"[{policy_id}]: version conflict, required seqNo [{if_seq_no}], {found}"
            return _error(409, conflict, reason)
        version = 1 if current is None else current[0] + 1
        self._ism_meta[policy_id] = (version, next(self._ism_seq_no))
        self.ism_policies[policy_id] = body
        reply = {
            "_id": policy_id,
            "_version": version,
            "_primary_term": _PRIMARY_TERM,
            "_seq_no": self._ism_meta[policy_id][1],
            "policy": {"policy": self._stored_policy(policy_id)},
        }
        return _Reply(201 if current is None else 200, reply)

    def _stored_policy(self, policy_id: str) -> JsonObject:
        policy: JsonObject = {"policy_id": policy_id, "error_notification": None, "ism_template": None}
        policy.update(self.ism_policies[policy_id]["policy"])
        policy.update(last_updated_time=int(time.time() * 1000), schema_version=_ISM_SCHEMA_VERSION)
        return policy


def _json_object(body: bytes) -> JsonObject | None:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a handler stuck on a client never keeps the test process alive

    def __init__(self, fake: FakeOpenSearch) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: object, client_address: object) -> None:
        """Ignore clients that hang up (expected under faults); keep anything else for ``__exit__``."""
        error = sys.exc_info()[1]
        if error is not None and not isinstance(error, ConnectionError | TimeoutError):
            self.fake._record_error(error)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as urllib3's pool expects
    timeout = 30.0  # idle keep-alive connections end on their own even if nobody calls __exit__
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._track(self.connection, open_=False)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: tests inspect ``FakeOpenSearch.requests`` instead of stderr."""

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _serve(self) -> None:
        fake = self.server.fake
        arrived = time.time()
        wire = self._read_body()
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in self.headers.items()}
        try:
            body = gzip.decompress(wire) if headers.get("content-encoding") == "gzip" else wire
        except (OSError, EOFError) as exc:
            body, reply = b"", _error(400, "illegal_argument_exception", f"body is not valid gzip: {exc}")
        else:
            try:
                reply = fake.handle(self.command, url.path, query, body)
            except Exception as exc:  # a bug in the fake: answer loudly and fail the test at __exit__
                fake._record_error(exc)
                reply = _error(500, "fake_opensearch_bug", repr(exc))
        fake._record(
            RequestRecord(
                self.command, url.path, query, headers, wire, body, reply.status, arrived, aborted=reply.reset
            )
        )
        if reply.delay:
            fake._stopping.wait(reply.delay)  # an overloaded node answers late; __exit__ cuts it short
        self._respond(reply, gzip_ok="gzip" in headers.get("accept-encoding", ""))

    def _respond(self, reply: _Reply, *, gzip_ok: bool) -> None:
        payload = b"" if reply.body is None else orjson.dumps(reply.body)
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        if gzip_ok and payload:
            payload = gzip.compress(payload, compresslevel=1)
            self.send_header("Content-Encoding", "gzip")
        self.send_header("Content-Length", str(len(payload)))
        try:
            self.end_headers()
            if self.command == "HEAD":
                return
            if reply.reset:
                # Half the promised bytes then FIN: the client sees an incomplete read after we indexed.
                self.wfile.write(payload[: len(payload) // 2])
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.wfile.write(payload)
        except OSError:
            self.close_connection = True  # the client gave up first (its timeout, or __exit__)
