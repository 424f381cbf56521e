"""A small lake for the report's tests: generated traffic plus requests that carry hostile markup and
planted secrets, ingested by ``waflens ingest --lake`` twice with different batch cuts (so the lake
holds some events in two files, as a redelivery can leave it)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import duckdb
import orjson

from devtools.generate import PLANTED_SECRET_PREFIX, iter_records
from ingest.cli.main import main

ROOT: Final = Path(__file__).resolve().parents[2]
CONFIG: Final = ROOT / "examples" / "waflens.toml"
SECRET: Final = f"{PLANTED_SECRET_PREFIX}report-0123456789abcdef"
SCRIPT_URI: Final = "/<script>alert(1)</script>"
CLOSING_UA: Final = "</script><script>alert(2)</script>"
HOSTILE: Final = 300  # enough to rank among the top URIs and user agents


def hostile_records(count: int = HOSTILE) -> list[bytes]:
    """``count`` requests to a script-tag URI with a ``</script>`` user agent, each carrying a bearer
    token, a session cookie and a ``token`` query argument (in ``args`` and in the ``uri``)."""
    template = orjson.loads(next(r for r in iter_records(50, seed=3) if b"/webacl/search-api_prod/" in r))
    records = []
    for i in range(count):
        record = orjson.loads(orjson.dumps(template))
        request = record["httpRequest"]
        request["headers"] = [
            {"name": "Authorization", "value": f"Bearer {SECRET}"},
            {"name": "Cookie", "value": f"session={SECRET}; theme=dark"},
            {"name": "User-Agent", "value": CLOSING_UA},
        ]
        request["uri"] = SCRIPT_URI if i % 2 else f"{SCRIPT_URI}?token={SECRET}"
        request["args"] = f"token={SECRET}&page={i}"
        request["requestId"] = f"hostile-{i}"
        record["timestamp"] = template["timestamp"] + i * 1000
        records.append(orjson.dumps(record))
    return records


def build_lake(folder: Path, *, records: int = 4000) -> Path:
    """``folder/lake`` from ``records`` generated records plus the hostile ones; returns the lake."""
    logs = folder / "waf.log"
    logs.write_bytes(b"\n".join([*iter_records(records, seed=11), *hostile_records()]) + b"\n")
    lake = folder / "lake"
    for batch in ("1000", "700"):  # two cuts: the second run writes every event again, in other files
        argv = ["ingest", str(logs), "--lake", str(lake), "--config", str(CONFIG), "--batch-records", batch]
        assert main(argv) == 0
    return lake


def lake_sql(lake: Path, query: str) -> list[tuple[object, ...]]:
    """``query`` over ``events`` (each ``_id`` once), read by DuckDB: numbers computed without waflens."""
    files = str(lake / "**" / "*.parquet").replace("'", "''")
    with duckdb.connect() as db:
        db.execute(
            f"CREATE VIEW events AS SELECT * FROM read_parquet('{files}', hive_partitioning = false) "
            "QUALIFY row_number() OVER (PARTITION BY _id) = 1"
        )
        return db.execute(query).fetchall()
