"""The Glue table's columns come from ``enrich.schema.LAKE_FILE`` and describe the files the lake writes."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from devtools.generate import iter_records
from enrich import schema as S
from infra.lake_schema import LEFT_OUT, glue_type, lake_columns
from ingest.deadline import Deadline
from ingest.sinks.lake import ParquetLake
from tests.support.pipeline import enriched


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (pl.String, "string"),
        (pl.Int64(), "bigint"),
        (pl.Boolean, "boolean"),
        (pl.Datetime("ms", "UTC"), "timestamp"),
        (pl.List(pl.String), "array<string>"),
        (pl.Struct({"ruleId": pl.String, "n": pl.Int64}), "struct<ruleid:string,n:bigint>"),
        (pl.List(pl.Struct({"a": pl.List(pl.Int64)})), "array<struct<a:array<bigint>>>"),
    ],
)
def test_polars_types_become_hive_type_strings(dtype: pl.DataType, expected: str) -> None:
    assert glue_type(dtype) == expected


def test_a_type_without_a_glue_name_fails_with_a_sentence() -> None:
    with pytest.raises(TypeError, match="has no Glue type here"):
        glue_type(pl.Decimal(10, 2))


def test_every_lake_column_athena_can_name_is_in_the_table_in_file_order() -> None:
    names = [name for name, _ in lake_columns()]

    assert names == [n.lower() for n in S.LAKE_FILE.names() if n not in LEFT_OUT]
    assert set(LEFT_OUT) == {S.TIMESTAMP}  # the only name Athena cannot have
    assert dict(lake_columns())["httprequest"].startswith(
        "struct<clientip:string,country:string,headers:array<"
    )
    assert "blocked:boolean" in dict(lake_columns())["waflens"]


def _arrow_type(dtype: pa.DataType) -> str:
    """The Hive type string of a Parquet column, read from the file itself."""
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return f"array<{_arrow_type(dtype.value_type)}>"
    if pa.types.is_struct(dtype):
        return "struct<" + ",".join(f"{f.name.lower()}:{_arrow_type(f.type)}" for f in dtype) + ">"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return "string"
    names = {pa.int64(): "bigint", pa.bool_(): "boolean"}
    if pa.types.is_timestamp(dtype):
        return "timestamp"
    return names[dtype]


def test_the_table_describes_the_parquet_files_the_lake_writes(tmp_path: Path) -> None:
    frame = enriched(record.decode() for record in iter_records(50, seed=7))
    ParquetLake(tmp_path).write(frame, Deadline.after(60))
    files = sorted(tmp_path.rglob("*.parquet"))
    assert files, "the lake wrote no file"

    schema = pq.read_schema(files[0])
    written = [
        (field.name.lower(), _arrow_type(field.type)) for field in schema if field.name not in LEFT_OUT
    ]

    assert written == lake_columns()
    assert files[0].relative_to(tmp_path).parts[0].startswith("event_date=")
    assert files[0].relative_to(tmp_path).parts[1].startswith("account=")
