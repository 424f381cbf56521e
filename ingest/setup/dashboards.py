"""Applies saved objects to OpenSearch Dashboards, never silently overwriting what a user changed.

One ``_bulk_get`` reads the cluster's copies; each object is then classified (``changes.classify``);
one ``_import?overwrite=true`` writes only what must be created or updated. Objects somebody edited
since waflens wrote them are reported and left alone, unless ``replace_changed``: then their cluster
copies are first written to a backup ndjson file, and overwritten.

Every request carries ``osd-xsrf: true`` (Dashboards refuses writes without it) and the
``securitytenant`` header naming the tenant (the security plugin's multi-tenancy). On Amazon OpenSearch
Service the base URL ends in ``/_dashboards``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlparse

import orjson
import requests
from opensearchpy import RequestsAWSV4SignerAuth

from enrich.config import ConfigError
from ingest.setup.changes import CHANGED, ChangedObject, SavedDict, SetupReport, classify, saved_name, stamped
from ingest.sinks.opensearch.client import Endpoint

IMPORT_PATH: Final = "/api/saved_objects/_import"
BULK_GET_PATH: Final = "/api/saved_objects/_bulk_get"
IMPORT_FILE: Final = "waflens.ndjson"  # the import route refuses file names not ending in .ndjson
_LABEL: Final = re.compile(r"[A-Za-z][A-Za-z _-]{0,60}")


class DashboardsError(Exception):
    """Dashboards refused or failed a request; the message names the request, never its content."""


def headers(tenant: str) -> dict[str, str]:
    """Headers every saved-objects request carries."""
    return {"osd-xsrf": "true", "securitytenant": tenant}


def ndjson(objects: Sequence[SavedDict]) -> bytes:
    """Objects as an ``_import`` file: one JSON object per line."""
    return b"".join(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) + b"\n" for obj in objects)


@dataclass
class DashboardsClient:
    """The saved-objects API of one Dashboards, through a ``requests`` session carrying the auth."""

    url: str
    session: requests.Session
    timeout: float = 30.0

    def _post(self, path: str, tenant: str, what: str, **kwargs: Any) -> Any:
        try:
            response = self.session.post(
                self.url.rstrip("/") + path, headers=headers(tenant), timeout=self.timeout, **kwargs
            )
        except requests.RequestException as exc:
            raise DashboardsError(f"{what}: cannot reach Dashboards ({type(exc).__name__})") from None
        if response.status_code >= 400:
            raise DashboardsError(f"{what}: HTTP {response.status_code}{_label(response)}")
        try:
            return response.json()
        except ValueError:
            raise DashboardsError(
                f"{what}: HTTP {response.status_code} with a body that is not JSON"
            ) from None

    def bulk_get(self, keys: Sequence[tuple[str, str]], tenant: str) -> list[SavedDict | None]:
        """The cluster's copy of each ``(type, id)``, None where there is none, in the order asked."""
        if not keys:
            return []
        body = [{"type": kind, "id": key} for kind, key in keys]
        found = self._post(BULK_GET_PATH, tenant, "reading saved objects", json=body)
        rows = found.get("saved_objects", []) if isinstance(found, dict) else []
        if len(rows) != len(keys):
            raise DashboardsError(f"reading saved objects: asked for {len(keys)}, got {len(rows)} answers")
        return [None if row.get("error") else row for row in rows]

    def import_objects(self, objects: Sequence[SavedDict], tenant: str) -> None:
        """Write the objects (replacing those with the same type and id) in one request."""
        files = {"file": (IMPORT_FILE, ndjson(objects), "application/ndjson")}
        result = self._post(
            IMPORT_PATH, tenant, "importing saved objects", params={"overwrite": "true"}, files=files
        )
        errors = (result.get("errors") or []) if isinstance(result, dict) else []
        if errors or not (isinstance(result, dict) and result.get("success")):
            named = ", ".join(_import_error(error) for error in errors[:10]) or "no detail"
            raise DashboardsError(f"importing saved objects: {len(errors)} refused ({named})")


def _label(response: requests.Response) -> str:
    """Dashboards' short error label (``Bad Request``), never its message (it may quote the request)."""
    try:
        label = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    return f" {label}" if isinstance(label, str) and _LABEL.fullmatch(label) else ""


def _import_error(error: Mapping[str, Any]) -> str:
    kind = (error.get("error") or {}).get("type")
    reason = kind if isinstance(kind, str) and _LABEL.fullmatch(kind) else "error"
    return f"{error.get('type')}:{error.get('id')} {reason}"


def apply_saved_objects(
    client: DashboardsClient,
    objects: Sequence[SavedDict],
    *,
    tenant: str,
    report: SetupReport,
    replace_changed: bool = False,
    backup_dir: Path = Path(),
) -> None:
    """Create or update saved objects into ``tenant``; record each one's change in ``report``."""
    wanted = [stamped(obj) for obj in objects]
    current = client.bulk_get([(str(obj["type"]), str(obj["id"])) for obj in wanted], tenant)
    to_import: list[SavedDict] = []
    edited: list[SavedDict] = []
    for obj, theirs in zip(wanted, current, strict=True):
        change = classify(obj, theirs)
        if change == CHANGED and theirs is not None:
            edited.append(theirs)
            if not replace_changed:
                report.changed_on_cluster.append(ChangedObject.of(theirs))
                report.changes[saved_name(obj)] = change
                continue
            change = "replaced"
        if change != "unchanged":
            to_import.append(obj)
        report.changes[saved_name(obj)] = change
    if replace_changed and edited:
        report.backup = write_backup(edited, backup_dir)
    if to_import:
        client.import_objects(to_import, tenant)


def write_backup(objects: Sequence[SavedDict], directory: Path) -> Path:
    """The cluster's copies of objects about to be overwritten, as an importable ndjson file."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    keep = ("type", "id", "attributes", "references", "migrationVersion")
    lines = ndjson([{key: obj[key] for key in keep if key in obj} for obj in objects])
    for attempt in range(100):  # never overwrite an earlier backup, even from the same second
        path = directory / f"waflens-saved-objects-backup-{stamp}{f'-{attempt}' if attempt else ''}.ndjson"
        try:
            with path.open("xb") as file:
                file.write(lines)
        except FileExistsError:
            continue
        return path
    raise DashboardsError(f"writing the backup: too many backups named {stamp} in {directory}")


def connect(url: str, endpoint: Endpoint) -> DashboardsClient:
    """A client for the Dashboards at ``url``, authenticated the way the OpenSearch endpoint is."""
    if urlparse(url).scheme not in ("http", "https"):
        raise ConfigError(f"--dashboards {url!r} is not an http(s) URL")
    mode, _, region = endpoint.resolved()
    session = requests.Session()
    session.verify = endpoint.verify_certs
    if mode == "sigv4":
        # Dashboards of an OpenSearch Service domain take the domain's SigV4 service name, es.
        session.auth = RequestsAWSV4SignerAuth(_aws_credentials(), region, "es")
    elif mode == "basic":
        assert endpoint.username is not None  # resolved() checked both
        assert endpoint.password is not None
        session.auth = (endpoint.username, endpoint.password)
    return DashboardsClient(url, session, timeout=endpoint.timeout)


def _aws_credentials() -> Any:
    import boto3  # noqa: PLC0415  # only SigV4 endpoints need botocore's credential chain

    credentials = boto3.Session().get_credentials()
    if credentials is None:
        raise ConfigError("SigV4 needs AWS credentials and none were found (environment, profile or role)")
    return credentials
