"""Every request waflens sends to set up a cluster, as typed values rendered to deterministic JSON."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Final, Literal

from dashboards.mappings import document_mappings
from dashboards.settings import ClusterSettings

SCHEMA_VERSION: Final = 1  # bump when the document model changes shape
Body = dict[str, object]


@dataclass(frozen=True)
class ClusterRequest:
    """One REST call: method, path and JSON body."""

    name: str
    method: Literal["PUT", "POST"]
    path: str
    body: Body

    @property
    def kind(self) -> str:
        """What the request sets up: the part of ``name`` before ``:`` (``role:analyst`` is a ``role``)."""
        return self.name.split(":", 1)[0]

    def render(self) -> str:
        """The request as stable JSON: same settings, same bytes."""
        return canonical({"method": self.method, "path": self.path, "body": self.body})


def canonical(value: object) -> str:
    """Sorted keys, two-space indent, trailing newline."""
    return json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def digest(body: Body) -> str:
    """A short content digest; stored on the cluster so a second setup can tell nothing changed."""
    return hashlib.sha256(canonical(body).encode()).hexdigest()[:16]


def index_template(settings: ClusterSettings) -> Body:
    """The composable index template for ``<prefix>-*`` daily indices."""
    body: Body = {
        "index_patterns": [settings.index_pattern],
        "priority": 200,
        "version": SCHEMA_VERSION,
        "template": {
            "settings": {
                "index": {
                    "number_of_shards": settings.shards,
                    "number_of_replicas": settings.replicas,
                    "refresh_interval": settings.refresh_interval,
                    "codec": settings.codec,
                    "mapping": {"ignore_malformed": True, "total_fields": {"limit": 2000}},
                }
            },
            "mappings": document_mappings(),
        },
        "_meta": {"managed_by": "waflens", "schema_version": SCHEMA_VERSION},
    }
    meta = body["_meta"]
    assert isinstance(meta, dict)
    meta["digest"] = digest(body)
    return body


def _retry() -> Body:
    return {"count": 3, "backoff": "exponential", "delay": "1m"}


def ism_policy(settings: ClusterSettings) -> Body:
    """Retention: hot, then (optionally) warm, then delete, by index age."""
    delete_at = f"{settings.delete_after_days}d"
    states: list[Body] = []
    if settings.warm_after_days:
        warm_at = f"{settings.warm_after_days}d"
        states.append({"name": "hot", "actions": [], "transitions": [_to("warm", warm_at)]})
        warm_actions: list[Body] = [
            {"read_only": {}, "retry": _retry()},
            {"force_merge": {"max_num_segments": 1}, "retry": _retry()},
        ]
        states.append({"name": "warm", "actions": warm_actions, "transitions": [_to("delete", delete_at)]})
        summary = f"hot, warm after {warm_at}, deleted after {delete_at}"
    else:
        states.append({"name": "hot", "actions": [], "transitions": [_to("delete", delete_at)]})
        summary = f"hot, deleted after {delete_at}"
    states.append({"name": "delete", "actions": [{"delete": {}, "retry": _retry()}], "transitions": []})
    policy: Body = {
        "description": f"waflens retention for {settings.index_pattern}: {summary}",
        "default_state": "hot",
        "states": states,
        "ism_template": [{"index_patterns": [settings.index_pattern], "priority": 100}],
    }
    # ISM keeps no _meta; the digest rides in the description so a second setup can compare it.
    policy["description"] = f"{policy['description']} [digest {digest(policy)}]"
    return {"policy": policy}


def _to(state: str, age: str) -> Body:
    return {"state_name": state, "conditions": {"min_index_age": age}}


def setup_requests(settings: ClusterSettings) -> list[ClusterRequest]:
    """What ``waflens setup`` sends, in order: the template first, so the first index is mapped."""
    return [
        ClusterRequest(
            "index-template", "PUT", f"/_index_template/{settings.template_name}", index_template(settings)
        ),
        ClusterRequest(
            "ism-policy", "PUT", f"/_plugins/_ism/policies/{settings.policy_id}", ism_policy(settings)
        ),
    ]
