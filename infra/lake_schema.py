"""The lake's columns as Glue/Hive types, derived from ``enrich.schema.LAKE_FILE``: one schema, no copy.

Athena names may hold only letters, digits and underscores, and it lower-cases them (Parquet columns
are matched by name without regard to case), so names are lower-cased here as a crawler would.
``@timestamp`` cannot be named in Athena: it is left out, and ``timestamp`` (WAF's epoch milliseconds)
holds the same instant. https://docs.aws.amazon.com/athena/latest/ug/tables-databases-columns-names.html
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

import polars as pl

from enrich import schema as S

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

# name -> why Athena cannot have it; every other LAKE_FILE column is in the table
LEFT_OUT: Final = {S.TIMESTAMP: "not an Athena name; timestamp (epoch ms) holds the same instant"}
PARTITION_KEYS: Final = (S.EVENT_DATE, S.ACCOUNT_PARTITION)  # both string: account ids keep leading zeros
_NAME: Final = re.compile(r"[A-Za-z0-9_]+")
_SCALARS: Final[dict[PolarsDataType, str]] = {
    pl.String: "string",
    pl.Int64: "bigint",
    pl.Int32: "int",
    pl.Int16: "smallint",
    pl.Int8: "tinyint",
    pl.Float64: "double",
    pl.Float32: "float",
    pl.Boolean: "boolean",
    pl.Date: "date",
    pl.Datetime: "timestamp",
}


def glue_type(dtype: PolarsDataType) -> str:
    """The Hive type string Glue and Athena use for a Polars type (``array<struct<a:bigint>>``)."""
    if isinstance(dtype, pl.List):
        return f"array<{glue_type(dtype.inner)}>"
    if isinstance(dtype, pl.Struct):
        fields = ",".join(f"{_name(f.name)}:{glue_type(f.dtype)}" for f in dtype.fields)
        return f"struct<{fields}>"
    scalar = _SCALARS.get(dtype.base_type())  # a field may hold the class (pl.String) or an instance
    if scalar is None:
        raise TypeError(f"the lake has a {dtype} column, which has no Glue type here; add it to _SCALARS")
    return scalar


def lake_columns(schema: pl.Schema = S.LAKE_FILE) -> list[tuple[str, str]]:
    """Each column of a lake file Athena can name, in file order, with its Glue type."""
    return [(_name(name), glue_type(dtype)) for name, dtype in schema.items() if name not in LEFT_OUT]


def _name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise ValueError(f"{name!r} is not an Athena column name (letters, digits and _ only)")
    return name.lower()
