"""Secrets never leave the ingester: not in the lake, the dead-letter store, stdout or the logs."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import polars as pl
import pytest

from ingest.cli import main
from ingest.generate import PLANTED_SECRET_PREFIX, write_logs
from ingest.lake import scan_lake
from tests.support.samples import sample

BROKEN_WITH_SECRET = (
    b'{"timestamp":1767571200000,"webaclId":"arn:aws:wafv2:us-east-1:111111111111:global/webacl/a/1",'
    b'"httpRequest":{"headers":[{"name":"X-Api-Key","value":"wlsecret-in-broken-json"}, oops\n'
)


def _published_jwt() -> str:
    """The bearer token the CLO sample carries as published (never printed)."""
    record = orjson.loads(sample("centralized-logging-with-opensearch.ndjson").read_bytes().splitlines()[0])
    value = next(h["value"] for h in record["httpRequest"]["headers"] if h["name"].lower() == "authorization")
    assert len(value) > 40
    return str(value)


def test_no_planted_secret_appears_in_any_byte_written(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    logs = tmp_path / "in" / "generated.log.gz"
    logs.parent.mkdir()
    write_logs(logs, 5000, seed=7)
    planted = gzip.decompress(logs.read_bytes()).count(PLANTED_SECRET_PREFIX.encode())
    assert planted > 500  # the input really carries secrets
    (tmp_path / "in" / "broken.log").write_bytes(BROKEN_WITH_SECRET)
    clo = sample("centralized-logging-with-opensearch.ndjson")

    exit_code = main(["ingest", str(tmp_path / "in"), str(clo), "--lake", str(tmp_path / "lake")])
    out, err = capfd.readouterr()

    assert exit_code == 0
    summary = orjson.loads(out.splitlines()[-1])
    assert summary["rejected"] == 1
    assert summary["delivered"] == 5002
    secrets = [PLANTED_SECRET_PREFIX.encode(), _published_jwt().encode()]
    written = [p for p in tmp_path.rglob("*") if p.is_file() and p != logs and p.name != "broken.log"]
    assert any(p.suffix == ".parquet" for p in written)
    assert any(p.suffix == ".ndjson" for p in written)
    for path in written:
        data = path.read_bytes()
        if path.suffix == ".parquet":  # compressed pages: check the decoded values instead
            data = pl.read_parquet(path).write_ndjson().encode()
        for secret in secrets:
            assert secret not in data, path
    for secret in secrets:
        assert secret.decode() not in out + err


def test_typed_header_columns_hold_the_marker_not_the_secret(tmp_path: Path) -> None:
    logs = tmp_path / "generated.log"
    write_logs(logs, 2000, seed=3)
    assert main(["ingest", str(logs), "--lake", str(tmp_path / "lake")]) == 0
    headers = (
        scan_lake(tmp_path / "lake")
        .select(pl.col("httpRequest").struct.field("headers"))
        .explode("headers")
        .unnest("headers")
        .filter(
            pl.col("name")
            .str.to_lowercase()
            .is_in(["authorization", "cookie", "x-api-key", "proxy-authorization"])
        )
        .collect()
    )
    assert headers.height > 100
    assert set(headers["value"].to_list()) <= {"REDACTED"}
