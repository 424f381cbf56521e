"""The ingest roles allow what the functions actually do on S3, and nothing there is missing.

The S3 and Firehose handlers run with the variables the stack gives them (bucket names filled in) against
moto's S3 on loopback; a WSGI recorder in front of it keeps every request, each is translated to the IAM
action and resource S3 authorizes it as, and each must match a grant of that function's role. The cold
start's probe, lake writes, dead letters and reads of the log bucket are all among them.
"""

from __future__ import annotations

import base64
import gzip
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import parse_qs, unquote

import boto3
import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from devtools.generate import iter_records
from infra.settings import DEFAULT_CONFIG, ROOT
from ingest.environment import ENV_AWS_SERVICE, ENV_CONFIG, ENV_OPENSEARCH_AUTH, ENV_OPENSEARCH_URL
from ingest.handlers import firehose as firehose_handler
from ingest.handlers import s3 as s3_handler
from tests.support.infra import Synthesized, grants, text
from tests.support.lambda_events import Context, firehose_event
from tests.support.s3_events import notification, sqs_event

REGION = "us-east-1"
WAF_LOGS = "aws-waf-logs-waflens-account-region"  # the name the stack gives it, with placeholders
BUCKETS = {"LakeBucket": "lake-bucket", "DeadLetterBucket": "dead-letter-bucket"}
KEY = "AWSLogs/111111111111/WAFLogs/us-east-1/shop/2026/01/05/10/05/111111111111_waflogs_shop.log.gz"


@dataclass
class Recorder:
    """WSGI middleware keeping (method, path, query) of every request it passes on."""

    app: Callable[..., Any]
    requests: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        self.requests.append(
            (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("QUERY_STRING", ""))
        )
        return self.app(environ, start_response)


@pytest.fixture(scope="module")
def s3_server() -> Iterator[tuple[str, Recorder]]:
    """moto on a free loopback port, behind a recorder."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    recorder = Recorder(DomainDispatcherApplication(create_backend_app))
    server = make_server("127.0.0.1", port, recorder, threaded=True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", recorder
    finally:
        server.shutdown()
        thread.join()


def authorized_as(method: str, path: str, query: str) -> tuple[str, str]:
    """The IAM action and resource S3 checks for a path-style request."""
    bucket, _, key = unquote(path).lstrip("/").partition("/")
    arguments = parse_qs(query, keep_blank_values=True)
    if not key:
        if "location" in arguments:
            return "s3:GetBucketLocation", f"arn:aws:s3:::{bucket}"
        assert method in ("GET", "HEAD"), f"unmapped bucket request {method} {path}?{query}"
        return "s3:ListBucket", f"arn:aws:s3:::{bucket}"  # ListObjects(V2) and HeadBucket
    resource = f"arn:aws:s3:::{bucket}/{key}"
    if method in ("GET", "HEAD"):
        return ("s3:GetObjectVersion" if "versionId" in arguments else "s3:GetObject"), resource
    if method in ("PUT", "POST"):  # PutObject, and every step of a multipart upload
        return "s3:PutObject", resource
    assert method == "DELETE", f"unmapped object request {method} {path}?{query}"
    return ("s3:AbortMultipartUpload" if "uploadId" in arguments else "s3:DeleteObject"), resource


def denied(requests: list[tuple[str, str, str]], allowed: set[tuple[str, str]]) -> list[str]:
    """The requests no grant matches (IAM's ``*`` matches any characters, ``/`` included)."""
    missing = []
    for request in requests:
        action, resource = authorized_as(*request)
        if not any(action == a and fnmatchcase(resource, pattern) for a, pattern in allowed):
            missing.append(f"{action} {resource}")
    return missing


def role_grants(deployment: Synthesized, role: str) -> set[tuple[str, str]]:
    """A role's S3 grants with the buckets' placeholders replaced by their names on loopback."""
    found = set()
    for action, pattern in grants(deployment, role):
        named = pattern
        for placeholder, name in BUCKETS.items():
            named = named.replace(placeholder, f"arn:aws:s3:::{name}")
        found.add((action, named))
    return found


def function_environment(deployment: Synthesized, handler: str) -> dict[str, str]:
    """The function's variables, buckets named, the config local, no cluster (none runs here)."""
    (props,) = [
        r["Properties"]
        for r in deployment.resources("AWS::Lambda::Function").values()
        if r["Properties"]["ImageConfig"]["Command"] == [handler]
    ]
    variables = {k: text(v) for k, v in props["Environment"]["Variables"].items()}
    for name in (ENV_OPENSEARCH_URL, ENV_OPENSEARCH_AUTH, ENV_AWS_SERVICE):
        variables.pop(name)
    variables[ENV_CONFIG] = str(ROOT / DEFAULT_CONFIG)
    return {
        k: v.replace("LakeBucket", BUCKETS["LakeBucket"]).replace(
            "DeadLetterBucket", BUCKETS["DeadLetterBucket"]
        )
        for k, v in variables.items()
    }


@pytest.fixture
def aws(s3_server: tuple[str, Recorder], monkeypatch: pytest.MonkeyPatch) -> tuple[Any, Recorder]:
    url, recorder = s3_server
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ENDPOINT_URL": url,
    }.items():
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=url, region_name=REGION)
    for bucket in (WAF_LOGS, *BUCKETS.values()):
        client.create_bucket(Bucket=bucket)
    return client, recorder


def records(count: int) -> bytes:
    return b"".join(line + b"\n" for line in iter_records(count, seed=3)) + b'{"broken": \n'


def test_the_s3_function_needs_nothing_its_role_does_not_grant(
    infra: dict[str, Synthesized], aws: tuple[Any, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, recorder = aws
    client.put_object(Bucket=WAF_LOGS, Key=KEY, Body=gzip.compress(records(40)))
    for name, value in function_environment(infra["default"], "ingest.handlers.s3.handler").items():
        monkeypatch.setenv(name, value)
    event = sqs_event([notification(WAF_LOGS, KEY), notification(WAF_LOGS, KEY + ".gone"), "not json"])
    s3_handler.reset()
    recorder.requests.clear()

    response = s3_handler.process(event, Context(millis=120_000), s3=client)

    s3_handler.reset()
    assert response == {"batchItemFailures": []}
    buckets = {path.lstrip("/").partition("/")[0] for _, path, _ in recorder.requests}
    assert buckets == {WAF_LOGS, *BUCKETS.values()}  # it read the logs, wrote the lake and dead letters
    assert denied(recorder.requests, role_grants(infra["default"], "S3IngestRole")) == []


def test_the_firehose_function_needs_nothing_its_role_does_not_grant(
    infra: dict[str, Synthesized], aws: tuple[Any, Recorder], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, recorder = aws
    for name, value in function_environment(infra["default"], "ingest.handlers.firehose.handler").items():
        monkeypatch.setenv(name, value)
    payloads = [*records(20).splitlines(keepends=True)]
    s3_handler.reset()
    recorder.requests.clear()

    response = firehose_handler.handler(firehose_event(payloads), Context(millis=120_000))

    s3_handler.reset()
    results = [r["result"] for r in response["records"]]
    assert results.count("Ok") == 20
    assert results.count("Dropped") == 1  # the broken record, kept in the dead-letter store
    assert base64.b64decode(response["records"][0]["data"])
    allowed = role_grants(infra["default"], "FirehoseIngestRole")
    assert denied(recorder.requests, allowed) == []
    assert any(
        path.startswith(f"/{BUCKETS['DeadLetterBucket']}/firehose/") for _, path, _ in recorder.requests
    )
