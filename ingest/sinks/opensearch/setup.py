"""Applies ``dashboards.cluster`` requests to a cluster, idempotently: a second run changes nothing.

The cluster normalises what it stores (settings become strings, ISM adds defaults), so comparing bodies
would always differ. Each body carries a digest of itself (the template's ``_meta.digest``, the ISM
description's ``[digest …]``): equal digests mean nothing to do.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from opensearchpy import NotFoundError, OpenSearch

from dashboards.cluster import ClusterRequest

Change = Literal["created", "updated", "unchanged"]
_DIGEST = re.compile(r"\[digest ([0-9a-f]+)\]")


def apply(client: OpenSearch, requests: list[ClusterRequest]) -> dict[str, Change]:
    """Send each request unless the cluster already holds the same content."""
    done: dict[str, Change] = {}
    for request in requests:
        if request.name == "index-template":
            done[request.name] = _apply_template(client, request)
        elif request.name == "ism-policy":
            done[request.name] = _apply_policy(client, request)
        else:
            raise ValueError(f"no apply step for {request.name}")
    return done


def _get(client: OpenSearch, path: str) -> Any:
    try:
        return client.transport.perform_request("GET", path)
    except NotFoundError:
        return None


def _apply_template(client: OpenSearch, request: ClusterRequest) -> Change:
    current = _get(client, request.path)
    if current is not None:
        stored = current["index_templates"][0]["index_template"].get("_meta", {}).get("digest")
        if stored == request.body["_meta"]["digest"]:  # type: ignore[index]
            return "unchanged"
    client.transport.perform_request(request.method, request.path, body=request.body)
    return "created" if current is None else "updated"


def _apply_policy(client: OpenSearch, request: ClusterRequest) -> Change:
    current = _get(client, request.path)
    if current is None:
        client.transport.perform_request(request.method, request.path, body=request.body)
        return "created"
    wanted = _DIGEST.search(request.body["policy"]["description"])  # type: ignore[index]
    stored = _DIGEST.search(current["policy"].get("description", ""))
    if wanted and stored and wanted.group(1) == stored.group(1):
        return "unchanged"
    # ISM refuses to overwrite a policy without the sequence number it replaces
    params = {"if_seq_no": current["_seq_no"], "if_primary_term": current["_primary_term"]}
    client.transport.perform_request(request.method, request.path, params=params, body=request.body)
    return "updated"
