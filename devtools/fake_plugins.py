"""The plugin APIs ``waflens setup`` uses, for ``FakeOpenSearch``: security, alerting, anomaly detection.

``FakeOpenSearch.handle`` passes every ``/_plugins/_security|_alerting|_anomaly_detection/...`` request
here. Answers follow the real response shapes (security: ``{"status", "message"}`` and ``{name: {...}}``;
alerting and AD: ``_id``, ``_version``, ``_seq_no``, ``_primary_term`` and the stored object); searches
understand ``match_all`` and a ``term`` on the name's keyword field, which is all setup sends.
"""

from __future__ import annotations

import itertools
import threading
from typing import Any, Final

import orjson

JsonObject = dict[str, Any]
Answer = tuple[int, JsonObject]
_PRIMARY_TERM: Final = 1
# The security REST API's allowedKeys per resource (RolesApiAction, RolesMappingApiAction, TenantsApiAction).
_ALLOWED: Final = {
    "tenants": frozenset({"description"}),
    "roles": frozenset({"cluster_permissions", "tenant_permissions", "index_permissions", "description"}),
    "rolesmapping": frozenset({"backend_roles", "and_backend_roles", "hosts", "users", "description"}),
}
# What the security plugin adds to each stored entry when it answers a GET.
_DEFAULTS: Final[dict[str, JsonObject]] = {
    "tenants": {},
    "roles": {"cluster_permissions": [], "index_permissions": [], "tenant_permissions": []},
    "rolesmapping": {"backend_roles": [], "and_backend_roles": [], "hosts": [], "users": []},
}
_FLAGS: Final = {"hidden": False, "reserved": False, "static": False}


def _error(status: int, error_type: str, reason: str) -> Answer:
    cause = {"type": error_type, "reason": reason}
    return status, {"error": {"root_cause": [cause], **cause}, "status": status}


def _load(body: bytes) -> JsonObject | None:
    try:
        value = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


class _Store:
    """Objects with server-made ids and sequence numbers, as a plugin's config index keeps them."""

    def __init__(self, prefix: str, index: str) -> None:
        self.objects: dict[str, JsonObject] = {}
        self.meta: dict[str, tuple[int, int]] = {}  # id -> (_version, _seq_no)
        self._ids = (f"{prefix}{n:06d}" for n in itertools.count())
        self._seq_nos = itertools.count()
        self._index = index

    def put(self, object_id: str | None, value: JsonObject) -> tuple[str, JsonObject]:
        object_id = object_id or next(self._ids)
        version = self.meta.get(object_id, (0, 0))[0] + 1
        self.meta[object_id] = (version, next(self._seq_nos))
        self.objects[object_id] = value
        return object_id, self.envelope(object_id)

    def envelope(self, object_id: str) -> JsonObject:
        version, seq_no = self.meta[object_id]
        return {"_id": object_id, "_version": version, "_seq_no": seq_no, "_primary_term": _PRIMARY_TERM}

    def search(self, request: JsonObject, name_field: str) -> Answer:
        if not self.meta:  # the config index is created with the first object
            return _error(404, "index_not_found_exception", f"no such index [{self._index}]")
        query = request.get("query", {"match_all": {}})
        if "term" in query:
            wanted = query["term"].get(name_field)
            wanted = wanted.get("value") if isinstance(wanted, dict) else wanted
            ids = [i for i, obj in self.objects.items() if obj.get("name") == wanted]
        elif "match_all" in query:
            ids = list(self.objects)
        else:
            return _error(
                400, "parsing_exception", f"the fake only supports match_all and term, got {list(query)}"
            )
        hits = [
            {"_index": self._index, "_score": 1.0, **self.envelope(i), "_source": self.objects[i]}
            for i in ids
        ]
        total = {"value": len(hits), "relation": "eq"}
        return 200, {"took": 1, "timed_out": False, "hits": {"total": total, "max_score": 1.0, "hits": hits}}


class FakePlugins:
    """In-memory security, alerting and anomaly-detection state; thread-safe."""

    def __init__(self) -> None:
        self.security: dict[str, dict[str, JsonObject]] = {kind: {} for kind in _ALLOWED}
        self.monitors = _Store("fakemonitor", ".opendistro-alerting-config")
        self.detectors = _Store("fakedetector", ".opendistro-anomaly-detectors")
        self.running: set[str] = set()  # detector ids whose real-time job is started
        self._lock = threading.Lock()

    def handle(self, method: str, parts: list[str], query: dict[str, str], body: bytes) -> Answer:
        """Answer one ``/_plugins/...`` request (``parts``: the path's segments)."""
        with self._lock:
            match parts:
                case ["_plugins", "_security", "api", kind, name] if kind in _ALLOWED:
                    return self._security(method, kind, name, body)
                case ["_plugins", "_alerting", "monitors", *rest] if len(rest) <= 1:
                    return self._monitor(method, rest[0] if rest else None, query, body)
                case ["_plugins", "_anomaly_detection", "detectors", *rest] if len(rest) <= 2:
                    return self._detector(method, rest, body)
            return _error(404, "resource_not_found_exception", f"no handler for {method} /{'/'.join(parts)}")

    # -- security --------------------------------------------------------------------------------

    def _security(self, method: str, kind: str, name: str, body: bytes) -> Answer:  # noqa: PLR0911
        entries = self.security[kind]
        if method == "GET":
            if name not in entries:
                return 404, {"status": "NOT_FOUND", "message": f"Resource '{name}' not found."}
            return 200, {name: {**_DEFAULTS[kind], **entries[name], **_FLAGS}}
        if method != "PUT":
            return _error(405, "method_not_allowed", f"the fake takes GET and PUT on {kind}, not {method}")
        value = _load(body)
        if value is None:
            return 400, {"status": "BAD_REQUEST", "reason": "Invalid JSON"}
        invalid = sorted(set(value) - _ALLOWED[kind])
        if invalid:
            reason = {"status": "error", "reason": "Invalid configuration"}
            return 400, {**reason, "invalid_keys": {"keys": ",".join(invalid)}}
        existed = name in entries
        entries[name] = value
        if existed:
            return 200, {"status": "OK", "message": f"'{name}' updated."}
        return 201, {"status": "CREATED", "message": f"'{name}' created."}

    # -- alerting --------------------------------------------------------------------------------

    def _monitor(  # noqa: PLR0911  # one return per REST answer, as the plugin's handler has
        self, method: str, monitor_id: str | None, query: dict[str, str], body: bytes
    ) -> Answer:
        request = _load(body)
        if request is None:
            return _error(400, "parse_exception", "request body is not a JSON object")
        store = self.monitors
        if monitor_id == "_search" and method in ("GET", "POST"):
            return store.search(request, "monitor.name.keyword")
        if monitor_id is None:
            if method != "POST":
                return _error(405, "method_not_allowed", f"{method} on monitors")
            if "name" not in request or "schedule" not in request:
                return _error(400, "illegal_argument_exception", "a monitor needs a name and a schedule")
            _, envelope = store.put(None, request)
            return 201, {**envelope, "monitor": request}
        if monitor_id not in store.objects:
            return _error(404, "status_exception", "Monitor not found.")
        if method == "GET":
            return 200, {**store.envelope(monitor_id), "monitor": store.objects[monitor_id]}
        if method != "PUT":
            return _error(405, "method_not_allowed", f"{method} on a monitor")
        expected = (query.get("if_seq_no"), query.get("if_primary_term"))
        current = store.envelope(monitor_id)
        if expected != (None, None) and expected != (str(current["_seq_no"]), str(_PRIMARY_TERM)):
            reason = f"[{monitor_id}]: version conflict, required seqNo [{expected[0]}]"
            return _error(409, "version_conflict_engine_exception", reason)
        _, envelope = store.put(monitor_id, request)
        return 200, {**envelope, "monitor": request}

    # -- anomaly detection -----------------------------------------------------------------------

    def _detector(self, method: str, rest: list[str], body: bytes) -> Answer:  # noqa: PLR0911
        request = _load(body)
        if request is None:
            return _error(400, "parse_exception", "request body is not a JSON object")
        store = self.detectors
        match rest:
            case ["_search"] if method in ("GET", "POST"):
                return store.search(request, "name.keyword")
            case [] if method == "POST":
                if not {"name", "time_field", "indices"} <= set(request):
                    return _error(
                        400, "illegal_argument_exception", "a detector needs name, time_field, indices"
                    )
                _, envelope = store.put(None, request)
                return 201, {**envelope, "anomaly_detector": request}
            case [detector_id, *action] if detector_id not in store.objects:
                return _error(404, "status_exception", f"AnomalyDetector is not found with id: {detector_id}")
            case [detector_id] if method == "GET":
                return 200, {**store.envelope(detector_id), "anomaly_detector": store.objects[detector_id]}
            case [detector_id] if method == "PUT":
                if detector_id in self.running:
                    reason = f"Detector job is running: {detector_id}"
                    return _error(400, "illegal_argument_exception", reason)
                _, envelope = store.put(detector_id, request)
                return 200, {**envelope, "anomaly_detector": request}
            case [detector_id, "_start" | "_stop" as action] if method == "POST":
                (self.running.add if action == "_start" else self.running.discard)(detector_id)
                return 200, store.envelope(detector_id)
        return _error(405, "method_not_allowed", f"{method} /{'/'.join(rest)} on detectors")
