"""AWS account tags (team, environment, cost centre, ...) joined onto each event by the web ACL's account."""

from __future__ import annotations

import polars as pl

from enrich import schema as S
from enrich.config import ACCOUNT_TAG_KEYS, EnrichConfig


def accounts_table(config: EnrichConfig) -> pl.LazyFrame:
    """One row per configured account: ``_account_id`` and its tags."""
    rows = {"_account_id": [a.account_id for a in config.accounts]}
    for key in ACCOUNT_TAG_KEYS:
        rows[key] = [getattr(a, key) for a in config.accounts]
    return pl.LazyFrame(rows, schema={"_account_id": pl.String, **{k: pl.String for k in ACCOUNT_TAG_KEYS}})


def with_account(frame: pl.LazyFrame, config: EnrichConfig) -> pl.LazyFrame:
    """Add ``_account`` (``schema.ACCOUNT``); accounts absent from the config get ``account_defaults``."""
    account_id = pl.col("_webacl").struct.field("account_id")
    joined = frame.with_columns(account_id.alias("_account_id")).join(
        accounts_table(config), on="_account_id", how="left", validate="m:1", maintain_order="left"
    )
    defaults = config.account_defaults
    tags = [pl.col(key).fill_null(pl.lit(getattr(defaults, key), pl.String)) for key in ACCOUNT_TAG_KEYS]
    account = pl.struct(pl.col("_account_id").alias("id"), *tags).cast(S.ACCOUNT)
    return joined.with_columns(account.alias("_account")).drop("_account_id", *ACCOUNT_TAG_KEYS)
