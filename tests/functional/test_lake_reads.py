"""The lake read back keeps every value as written: an account id that starts with 0 stays a 12-digit string.

Polars infers a hive partition's type from the folder names, so ``account=012345678901`` becomes the
integer ``12345678901`` whenever every account read is numeric. ``scan_lake`` and the reads the README
shows declare the partition types; these tests run the README's own snippets against such a lake.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import polars as pl
import pytest

from ingest.cli.main import main
from ingest.sinks.lake import scan_lake
from tests.support.samples import sample

README = Path(__file__).resolve().parents[2] / "README.md"
ACCOUNTS = ("012345678901", "000000000042")  # both all digits: nothing hints that they are strings
LAKE_GLOB = "demo/lake/**/*.parquet"


def readme_block(language: str, containing: str) -> str:
    """The README's fenced ``language`` block that contains ``containing`` (exactly one)."""
    blocks = re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.DOTALL)
    found = [block for block in blocks if containing in block]
    assert len(found) == 1, f"{len(found)} {language} blocks in README.md contain {containing!r}"
    return found[0]


@pytest.fixture
def lake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Path:
    """``demo/lake`` under the current folder, as the quick start leaves it, with leading-zero accounts."""
    text = sample("panther.ndjson").read_text()  # its web ACL's account is not a 12-digit id
    logs = tmp_path / "logs"
    logs.mkdir()
    for account in ACCOUNTS:
        (logs / f"{account}.ndjson").write_text(
            text.replace("123456789EXAMPLE:regional", f"{account}:regional")
        )
    monkeypatch.chdir(tmp_path)
    assert main(["ingest", "logs", "--lake", "demo/lake"]) == 0
    capsys.readouterr()
    folders = {p.name for p in (tmp_path / "demo" / "lake").glob("event_date=*/account=*")}
    assert folders == {f"account={account}" for account in ACCOUNTS}
    return tmp_path / "demo" / "lake"


def test_inferring_the_partition_types_loses_the_leading_zeros(lake: Path) -> None:
    # the hazard the declared types guard against: if Polars stops inferring integers, this shows it
    inferred = pl.scan_parquet(LAKE_GLOB, hive_partitioning=True).select("account").unique().collect()
    assert inferred.schema["account"].is_integer()
    assert sorted(inferred["account"].to_list()) == [42, 12345678901]


def test_scan_lake_keeps_account_ids_as_written(lake: Path) -> None:
    events = scan_lake(lake).select("account", "event_date", pl.col("waflens").struct.field("webacl"))
    frame = events.collect()
    assert frame.schema["account"] == pl.String
    assert frame.schema["event_date"] == pl.Date
    assert sorted(frame["account"].unique().to_list()) == sorted(ACCOUNTS)
    assert (frame["account"] == frame["webacl"].struct.field("account_id")).all()


def test_the_readme_polars_read_keeps_account_ids_as_written(lake: Path) -> None:
    namespace: dict[str, object] = {}
    exec(readme_block("python", f'pl.scan_parquet(\n    "{LAKE_GLOB}"'), namespace)
    events = namespace["events"]
    assert isinstance(events, pl.LazyFrame)
    accounts = events.select("account").unique().collect()
    assert accounts.schema["account"] == pl.String
    assert sorted(accounts["account"].to_list()) == sorted(ACCOUNTS)
    assert events.collect().height == scan_lake(lake).collect().height  # the README's lake is each id once


def test_the_readme_duckdb_read_keeps_account_ids_as_written(
    lake: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    block = readme_block("python", "import duckdb")
    exec(block, {})  # the README's query runs as written and prints its table
    shown = capsys.readouterr().out
    assert all(account in shown for account in ACCOUNTS)

    match = re.search(r"read_parquet\('demo/lake/[^)]*\)", block)
    assert match is not None
    rows = duckdb.sql(f"select distinct account, typeof(account) from {match.group()} order by 1").fetchall()
    assert rows == [(account, "VARCHAR") for account in sorted(ACCOUNTS)]
