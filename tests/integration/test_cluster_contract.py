"""The cluster contract, observed only through the REST API, so the same tests run against the loopback
fake and, when ``OPENSEARCH_URL`` is set, a real cluster (``OPENSEARCH_USERNAME``/``PASSWORD`` for basic
auth; SigV4 for *.amazonaws.com endpoints). Each run uses its own index prefix and removes what it made.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from opensearchpy import OpenSearch

from devtools.fake_opensearch import FakeOpenSearch
from ingest.cli.main import main
from ingest.sinks.opensearch.client import Endpoint, make_client
from tests.support.samples import NDJSON_COUNTS, samples_dir

REAL = os.environ.get("OPENSEARCH_URL")


@pytest.fixture(params=["loopback", pytest.param("real", marks=pytest.mark.integration)])
def cluster_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "real":
        if not REAL:
            pytest.skip("set OPENSEARCH_URL to run the cluster contract against a real cluster")
        yield REAL
        return
    with FakeOpenSearch() as server:
        yield server.url


@pytest.fixture
def prefix(cluster_url: str, tmp_path: Path) -> Iterator[str]:
    name = f"waflens-test-{uuid.uuid4().hex[:8]}"
    (tmp_path / "waflens.toml").write_text(f'[index]\nprefix = "{name}"\nreplicas = 0\n')
    yield name
    client = _client(cluster_url)
    for path in (f"/{name}-*", f"/_index_template/{name}", f"/_plugins/_ism/policies/{name}-retention"):
        client.transport.perform_request("DELETE", path, params={"ignore": 404})


def _client(url: str) -> OpenSearch:
    return make_client(
        Endpoint(
            url=url,
            username=os.environ.get("OPENSEARCH_USERNAME"),
            password=os.environ.get("OPENSEARCH_PASSWORD"),
        )
    )


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert main(list(argv)) == 0
    result = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


def _count(url: str, prefix: str) -> int:
    client = _client(url)
    client.transport.perform_request("POST", f"/{prefix}-*/_refresh")
    return int(client.transport.perform_request("GET", f"/{prefix}-*/_count")["count"])


def test_setup_twice_then_ingest_twice_stores_each_event_once(
    cluster_url: str, prefix: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = str(tmp_path / "waflens.toml")
    # the index template and retention only: a plain cluster may lack the security and alerting plugins
    setup = ("setup", "--opensearch", cluster_url, "--config", config, "--only", "indices")
    assert _cli(capsys, *setup) == {
        "index-template": "created",
        "ism-policy": "created",
    }
    assert _cli(capsys, *setup) == {
        "index-template": "unchanged",
        "ism-policy": "unchanged",
    }
    files = [str(p) for p in sorted(samples_dir().glob("*.ndjson"))]
    first = _cli(capsys, "ingest", *files, "--opensearch", cluster_url, "--config", config)
    assert (first["delivered"], first["rejected"], first["retryable"]) == (sum(NDJSON_COUNTS.values()), 0, 0)
    assert _count(cluster_url, prefix) == 320  # 323 records, three of them exact duplicates
    second = _cli(capsys, "ingest", *files, "--opensearch", cluster_url, "--config", config)
    assert second["delivered"] == first["delivered"]
    assert _count(cluster_url, prefix) == 320
