"""Where the client is: WAF's own country and ASN first, then GeoIP databases the user owns.

``enrich`` does no I/O: the edge opens the ``.mmdb`` files named in ``[geoip]`` (``ingest.geoip``) and
hands in a ``GeoLookup``. The lookup runs once per distinct valid client IP of a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import Final, Protocol, TypedDict

import polars as pl

from enrich.config_values import ConfigError, only_keys, string
from enrich.distinct import per_distinct

GEOIP_KEYS: Final = ("city", "asn")
UNKNOWN_COUNTRY: Final = ("-", "")  # what WAF writes when it cannot place an address (waf-log-format.md §1.3)
FOUND: Final = pl.Struct({"country": pl.String, "city": pl.String, "asn": pl.Int64, "as_org": pl.String})


class GeoRecord(TypedDict):
    """What the databases know about one address (None where they know nothing)."""

    country: str | None  # ISO 3166 alpha-2, as WAF writes it
    city: str | None
    asn: int | None
    as_org: str | None


class GeoLookup(Protocol):
    """Looks one IP address up; never raises for an address the databases do not hold."""

    def __call__(self, ip: str) -> GeoRecord: ...


@dataclass(frozen=True)
class GeoIPFiles:
    """The ``[geoip]`` table: paths of MaxMind databases (GeoLite2/GeoIP2 City or Country, and ASN)."""

    city: str | None = None
    asn: str | None = None

    @classmethod
    def from_mapping(cls, geoip: Mapping[str, object]) -> GeoIPFiles:
        """Parse ``[geoip]``; whether the files exist is checked where they are opened."""
        only_keys(geoip, set(GEOIP_KEYS), "geoip")
        paths = {k: string(geoip[k], f"geoip.{k}") for k in GEOIP_KEYS if k in geoip}
        for key, path in paths.items():
            if not path.strip():
                raise ConfigError(f"geoip.{key} must be the path of a .mmdb file")
        return cls(**paths)


def _looked_up(lookup: GeoLookup, ips: pl.Series) -> pl.Series:
    return per_distinct(ips, lookup, FOUND)


def found_expr(client_ip: pl.Expr, lookup: GeoLookup | None) -> pl.Expr:
    """``FOUND``: what the databases hold for each client IP, looked up once per distinct address.

    Make it a column before reading its fields: Polars runs a Python function once per use.
    """
    if lookup is None:
        return pl.lit(None, FOUND)
    return client_ip.map_batches(partial(_looked_up, lookup), return_dtype=FOUND)


def geo_expr(found: pl.Expr) -> pl.Expr:
    """``schema.GEO``: WAF's ``httpRequest.country`` and ``clientAsn`` win; ``found`` fills the rest.

    A city is kept only in the country the document names, an AS organization only for the ASN it
    names, so WAF and a database that disagree never produce a mixed answer.
    """
    waf_country = pl.col("httpRequest").struct.field("country")
    waf_asn = pl.col("clientAsn")
    db = found.struct
    country = pl.coalesce(pl.when(~waf_country.is_in(UNKNOWN_COUNTRY)).then(waf_country), db.field("country"))
    asn = pl.coalesce(pl.when(waf_asn > 0).then(waf_asn), db.field("asn"))  # 0: unknown to WAF
    return pl.struct(
        country.alias("country"),
        pl.when(db.field("country").eq_missing(country)).then(db.field("city")).alias("city"),
        asn.alias("asn"),
        pl.when(db.field("asn").eq_missing(asn)).then(db.field("as_org")).alias("as_org"),
    )
