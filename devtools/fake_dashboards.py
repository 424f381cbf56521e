"""A loopback lookalike of OpenSearch Dashboards' saved-objects API, for functional tests.

It speaks what ``waflens setup`` uses, with the real server's rules: ``POST api/saved_objects/_bulk_get``,
``POST api/saved_objects/_import`` (``multipart/form-data``, field ``file`` named ``*.ndjson``,
``overwrite``), and ``GET``/``PUT api/saved_objects/<type>/<id>`` so a test can edit an object the way
a user would. Writes without ``osd-xsrf`` get 400; objects live per tenant, chosen by the
``securitytenant`` header (``global`` without one). ``base_path="/_dashboards"`` mimics Amazon
OpenSearch Service. Every request is recorded in ``requests``.
"""

from __future__ import annotations

import email.parser
import email.policy
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

import orjson

JsonObject = dict[str, Any]
Answer = tuple[int, Any]
Key = tuple[str, str, str]  # tenant, type, id
_IMPORTABLE: Final = frozenset({"index-pattern", "visualization", "dashboard", "search", "config"})
_MUST_EXIST: Final = frozenset({"index-pattern", "search"})  # validate_references.ts


@dataclass(frozen=True)
class DashboardsRequest:
    """One request as the fake received it."""

    method: str
    path: str  # without the query string, base path included
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    status: int


def _bad(status: int, message: str) -> Answer:
    errors = {400: "Bad Request", 404: "Not Found", 409: "Conflict", 500: "Internal Server Error"}
    return status, {"statusCode": status, "error": errors.get(status, "Error"), "message": message}


class FakeDashboards:
    """Use as a context manager; point setup's ``--dashboards`` at ``url``."""

    def __init__(self, *, base_path: str = "", fail_status: int | None = None, fail_path: str = "") -> None:
        self.base_path = base_path.rstrip("/")
        # answer API calls whose path ends with fail_path ("": all) with this status, echoing the body
        self.fail_status, self.fail_path = fail_status, fail_path
        self.objects: dict[Key, JsonObject] = {}
        self.requests: list[DashboardsRequest] = []
        self._lock = threading.Lock()
        self._versions = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FakeDashboards:
        """Start serving on an ephemeral loopback port."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-dashboards", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        """Stop serving."""
        assert self._server is not None
        assert self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        """Base URL, base path included (``http://127.0.0.1:PORT/_dashboards``)."""
        assert self._server is not None, "enter the context first"
        return f"http://127.0.0.1:{self._server.server_port}{self.base_path}"

    def get(self, kind: str, object_id: str, tenant: str) -> JsonObject | None:
        """The stored object, or None."""
        with self._lock:
            return self.objects.get((tenant, kind, object_id))

    # -- routing ---------------------------------------------------------------------------------

    def handle(  # noqa: PLR0911  # one return per route reads like the API's table
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Answer:
        """Answer one request."""
        if not path.startswith(self.base_path + "/api/"):
            return _bad(404, "Not Found")
        parts = [unquote(p) for p in path[len(self.base_path) :].split("/") if p]
        if method != "GET" and headers.get("osd-xsrf") is None and headers.get("osd-version") is None:
            return _bad(400, "Request must contain a osd-xsrf header.")
        if self.fail_status is not None and path.endswith(self.fail_path):  # quotes what it was sent
            return _bad(self.fail_status, f"failed on: {body[:300].decode('utf-8', 'replace')}")
        tenant = headers.get("securitytenant", "global")
        with self._lock:
            match parts:
                case ["api", "saved_objects", "_bulk_get"] if method == "POST":
                    return self._bulk_get(tenant, body)
                case ["api", "saved_objects", "_import"] if method == "POST":
                    return self._import(tenant, query, headers.get("content-type", ""), body)
                case ["api", "saved_objects", kind, object_id] if method in ("GET", "PUT"):
                    return self._one(method, (tenant, kind, object_id), body)
        return _bad(404, "Not Found")

    def _stored(self, key: Key, obj: JsonObject) -> JsonObject:
        self._versions += 1
        stored = {
            "type": key[1],
            "id": key[2],
            "attributes": obj.get("attributes", {}),
            "references": obj.get("references", []),
            "migrationVersion": obj.get("migrationVersion", {}),
            "updated_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            "version": f"WzEsMV0{self._versions}=",
        }
        self.objects[key] = stored
        return stored

    def _bulk_get(self, tenant: str, body: bytes) -> Answer:
        try:
            wanted = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _bad(400, "Request body must be a JSON array")
        if not isinstance(wanted, list):
            return _bad(400, "Request body must be a JSON array")
        found = []
        for item in wanted:
            key = (tenant, str(item.get("type")), str(item.get("id")))
            obj = self.objects.get(key)
            missing = {
                "statusCode": 404,
                "error": "Not Found",
                "message": f"Saved object [{key[1]}/{key[2]}] not found",
            }
            found.append(obj if obj is not None else {"id": key[2], "type": key[1], "error": missing})
        return 200, {"saved_objects": found}

    def _import(self, tenant: str, query: dict[str, str], content_type: str, body: bytes) -> Answer:
        if query.get("overwrite") == "true" and query.get("createNewCopies") == "true":
            return _bad(400, "createNewCopies and overwrite cannot be used together")
        upload = _file_field(content_type, body)
        if upload is None:
            return _bad(400, "[request body.file]: expected value of type [object] but got [undefined]")
        filename, data = upload
        if not filename.endswith(".ndjson"):
            return _bad(400, f"Invalid file extension {filename.rpartition('.')[2] or filename}")
        try:
            objects = [orjson.loads(line) for line in data.split(b"\n") if line.strip()]
        except orjson.JSONDecodeError:
            return _bad(400, "Unexpected token in JSON")
        objects = [obj for obj in objects if "exportedCount" not in obj]
        keys = [(tenant, str(o.get("type")), str(o.get("id"))) for o in objects]
        if len(set(keys)) != len(keys):
            return _bad(400, "Non-unique import objects detected")
        return 200, self._import_objects(objects, keys, overwrite=query.get("overwrite") == "true")

    def _import_objects(self, objects: list[JsonObject], keys: list[Key], *, overwrite: bool) -> JsonObject:
        errors, done = [], []
        in_file = {(k[1], k[2]) for k in keys}
        for obj, key in zip(objects, keys, strict=True):
            title = obj.get("attributes", {}).get("title")
            base = {"id": key[2], "type": key[1], "title": title}
            missing = [
                {"type": r.get("type"), "id": r.get("id")}
                for r in obj.get("references", [])
                if r.get("type") in _MUST_EXIST
                and (r.get("type"), r.get("id")) not in in_file
                and (key[0], r.get("type"), r.get("id")) not in self.objects
            ]
            if key[1] not in _IMPORTABLE:
                errors.append({**base, "error": {"type": "unsupported_type"}})
            elif missing:
                errors.append({**base, "error": {"type": "missing_references", "references": missing}})
            elif key in self.objects and not overwrite:
                errors.append({**base, "error": {"type": "conflict"}})
            else:
                self._stored(key, obj)
                done.append({"type": key[1], "id": key[2], "meta": {"title": title}})
        answer: JsonObject = {"success": not errors, "successCount": len(done), "successResults": done}
        return {**answer, "errors": errors} if errors else answer

    def _one(self, method: str, key: Key, body: bytes) -> Answer:
        current = self.objects.get(key)
        if current is None:
            return _bad(404, f"Saved object [{key[1]}/{key[2]}] not found")
        if method == "GET":
            return 200, current
        try:
            update = orjson.loads(body)
        except orjson.JSONDecodeError:
            return _bad(400, "Request body must be JSON")
        attributes = {**current["attributes"], **update.get("attributes", {})}  # a partial update
        references = update.get("references", current["references"])
        return 200, self._stored(key, {**current, "attributes": attributes, "references": references})


def _file_field(content_type: str, body: bytes) -> tuple[str, bytes] | None:
    """The ``file`` field of a multipart/form-data body: its file name and bytes."""
    if not content_type.startswith("multipart/form-data"):
        return None
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == "file":
            payload = part.get_payload(decode=True)
            return str(part.get_filename() or ""), payload if isinstance(payload, bytes) else b""
    return None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet: tests read ``FakeDashboards.requests``."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        fake: FakeDashboards = self.server.fake  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        url = urlsplit(self.path)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in self.headers.items()}
        status, answer = fake.handle(self.command, url.path, query, headers, body)
        with fake._lock:
            fake.requests.append(DashboardsRequest(self.command, url.path, query, headers, body, status))
        payload = orjson.dumps(answer)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)
