"""``apply_all``: every piece of cluster content, in order, to OpenSearch and then to Dashboards."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from opensearchpy import OpenSearch, OpenSearchException, TransportError

from dashboards.cluster import ClusterRequest
from dashboards.registry import DEFAULT_TENANT, SavedObject
from ingest.setup.changes import SetupReport
from ingest.setup.dashboards import DashboardsClient, DashboardsError, apply_saved_objects
from ingest.setup.opensearch import apply_request, ordered

_ERROR_TYPE: Final = re.compile(r"[a-z_]{1,80}")


class SetupError(Exception):
    """A request failed; the message names the step and the HTTP status, never a body.

    ``report`` holds what was applied before the failure.
    """

    def __init__(self, message: str, report: SetupReport) -> None:
        super().__init__(message)
        self.report = report


def apply_all(
    client: OpenSearch,
    requests: Sequence[ClusterRequest],
    *,
    dashboards: DashboardsClient | None = None,
    objects: Sequence[SavedObject] = (),
    tenant: str = DEFAULT_TENANT,
    replace_changed: bool = False,
    backup_dir: Path = Path(),
) -> SetupReport:
    """Apply ``requests`` (template, ISM, tenants, roles, mappings, monitors, detectors), then ``objects``.

    Saved objects go last, into ``tenant``, so the tenant exists first; they need ``dashboards``.
    ``replace_changed`` overwrites objects a user changed, after writing their copies to ``backup_dir``.
    """
    if objects and dashboards is None:
        raise ValueError("saved objects need a Dashboards client")
    report = SetupReport()
    for request in ordered(list(requests)):
        try:
            report.changes[request.name] = apply_request(client, request)
        except OpenSearchException as exc:
            raise SetupError(f"{request.name}: {describe(exc)}", report) from None
    if dashboards is not None and objects:
        try:
            apply_saved_objects(
                dashboards,
                [obj.as_dict() for obj in objects],
                tenant=tenant,
                report=report,
                replace_changed=replace_changed,
                backup_dir=backup_dir,
            )
        except DashboardsError as exc:
            raise SetupError(str(exc), report) from None
    return report


def describe(exc: OpenSearchException) -> str:
    """An opensearch-py error as status and error type: its reason may quote the request body."""
    if not isinstance(exc, TransportError):
        return type(exc).__name__
    if exc.status_code == "N/A":  # no HTTP answer: refused, reset, timed out
        return f"no answer from OpenSearch ({type(exc).__name__})"
    error = exc.error if isinstance(exc.error, str) and _ERROR_TYPE.fullmatch(exc.error) else ""
    return f"HTTP {exc.status_code} {error}".rstrip()
