"""Applies ``dashboards.cluster`` requests to OpenSearch, idempotently: a second run only reads.

One function per kind of request. Each reads what the cluster holds, compares digests
(``ingest.setup.changes``) and writes only when they differ. Monitors and detectors get their ids from
the server, so they are found by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import quote

from opensearchpy import NotFoundError, OpenSearch, TransportError

from dashboards.cluster import ClusterRequest
from ingest.setup.changes import Change, described_digest

# The order setup applies kinds in: the template before any index exists, tenants before the roles
# that grant them, roles before their mappings.
KIND_ORDER: Final = ("index-template", "ism-policy", "tenant", "role", "role-mapping", "monitor", "detector")
_MONITORS: Final = "/_plugins/_alerting/monitors"
_DETECTORS: Final = "/_plugins/_anomaly_detection/detectors"
Json = Any  # what the cluster answers; read through the helpers below


def ordered(requests: list[ClusterRequest]) -> list[ClusterRequest]:
    """The requests in apply order (stable within a kind); ValueError names a kind setup cannot apply."""
    unknown = sorted({r.kind for r in requests} - set(KIND_ORDER))
    if unknown:
        raise ValueError(f"no apply step for {', '.join(unknown)}")
    return sorted(requests, key=lambda r: KIND_ORDER.index(r.kind))


def apply_request(client: OpenSearch, request: ClusterRequest) -> Change:
    """Apply one request unless the cluster already holds the same content."""
    return _STEPS[request.kind](client, request)


def _call(client: OpenSearch, method: str, path: str, **kwargs: Any) -> Json:
    return client.transport.perform_request(method, path, **kwargs)


def _get(client: OpenSearch, path: str) -> Json:
    try:
        return _call(client, "GET", path)
    except NotFoundError:
        return None


def _body(request: ClusterRequest) -> Mapping[str, Any]:
    return request.body


def _template(client: OpenSearch, request: ClusterRequest) -> Change:
    current = _get(client, request.path)
    if current is not None:
        stored = current["index_templates"][0]["index_template"].get("_meta", {}).get("digest")
        if stored == _body(request)["_meta"]["digest"]:
            return "unchanged"
    _call(client, request.method, request.path, body=request.body)
    return "created" if current is None else "updated"


def _policy(client: OpenSearch, request: ClusterRequest) -> Change:
    current = _get(client, request.path)
    if current is None:
        _call(client, request.method, request.path, body=request.body)
        return "created"
    wanted = described_digest(_body(request)["policy"]["description"])
    if wanted is not None and wanted == described_digest(current["policy"].get("description")):
        return "unchanged"
    # ISM refuses to overwrite a policy without the sequence number it replaces
    params = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
    _call(client, request.method, request.path, params=params, body=request.body)
    return "updated"


def _security(client: OpenSearch, request: ClusterRequest) -> Change:
    """Tenants, roles and role mappings: GET answers ``{name: {...}}``; PUT creates or replaces."""
    current = _get(client, request.path)
    name = request.path.rstrip("/").rsplit("/", 1)[-1]
    if current is not None:
        stored = described_digest((current.get(name) or {}).get("description"))
        if stored is not None and stored == described_digest(_body(request).get("description")):
            return "unchanged"
    _call(client, request.method, request.path, body=request.body)
    return "created" if current is None else "updated"


def _find(client: OpenSearch, path: str, field: str, name: str) -> tuple[str, Json] | None:
    """The id and source of the object named ``name`` (lowest id if several), or None."""
    query = {"size": 10, "query": {"term": {field: name}}}
    try:
        found = _call(client, "POST", f"{path}/_search", body=query)
    except NotFoundError:
        return None  # the plugin's config index does not exist until its first object
    hits = sorted(found.get("hits", {}).get("hits", []), key=lambda hit: str(hit["_id"]))
    return (str(hits[0]["_id"]), hits[0].get("_source") or {}) if hits else None


def _monitor(client: OpenSearch, request: ClusterRequest) -> Change:
    wanted = _body(request)
    found = _find(client, _MONITORS, "monitor.name.keyword", str(wanted["name"]))
    if found is None:
        _call(client, "POST", _MONITORS, body=request.body)
        return "created"
    monitor_id, source = found
    source = source.get("monitor", source)  # some versions wrap the stored monitor
    if _monitor_digest(source) == _monitor_digest(wanted):
        return "unchanged"
    path = f"{_MONITORS}/{quote(monitor_id, safe='')}"
    current = _call(client, "GET", path)
    params = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
    _call(client, "PUT", path, params=params, body=request.body)
    return "updated"


def _monitor_digest(monitor: Mapping[str, Any]) -> object:
    return ((monitor.get("ui_metadata") or {}).get("waflens") or {}).get("digest")


def _detector(client: OpenSearch, request: ClusterRequest) -> Change:
    wanted = _body(request)
    found = _find(client, _DETECTORS, "name.keyword", str(wanted["name"]))
    if found is None:
        created = _call(client, "POST", _DETECTORS, body=request.body)
        _call(client, "POST", f"{_DETECTORS}/{quote(str(created['_id']), safe='')}/_start")
        return "created"
    detector_id, source = found
    stored = described_digest(source.get("description"))
    if stored is not None and stored == described_digest(wanted.get("description")):
        return "unchanged"
    path = f"{_DETECTORS}/{quote(detector_id, safe='')}"
    try:
        _call(client, "POST", f"{path}/_stop")  # AD refuses to update a running detector
    except TransportError as exc:
        if exc.status_code != 400:  # 400: its job is not running, which is what stop is for
            raise
    _call(client, "PUT", path, body=request.body)
    _call(client, "POST", f"{path}/_start")
    return "updated"


_STEPS: Final[Mapping[str, Callable[[OpenSearch, ClusterRequest], Change]]] = {
    "index-template": _template,
    "ism-policy": _policy,
    "tenant": _security,
    "role": _security,
    "role-mapping": _security,
    "monitor": _monitor,
    "detector": _detector,
}
