"""The registered domain of the request's host (``api.example.co.uk:443`` → ``example.co.uk``).

The Public Suffix List comes from the ``publicsuffixlist`` package's bundled copy: nothing is
downloaded and nothing is written. Its private section counts, so ``d111.cloudfront.net`` is a domain
of its own, as browsers treat it. Each distinct host of a batch is normalized in Polars and looked up
once (``enrich.distinct``), with a bounded LRU across batches.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Final

import polars as pl
from publicsuffixlist import PublicSuffixList

from enrich.distinct import per_distinct
from enrich.fields import IP_ADDRESS, IPV4

# A DNS name as waflens accepts it: ASCII labels (punycode for IDNs, as clients send them), underscores
# allowed (real hosts carry them), at most 253 characters. Anything else has no registered domain.
HOST_NAME: Final = r"^[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*$"
MAX_NAME_CHARS: Final = 253
PORT: Final = r":[0-9]*$"
CACHE_SIZE: Final = 8192


@cache
def _suffixes() -> PublicSuffixList:
    return PublicSuffixList()  # reads the bundled list once, on first use


@lru_cache(maxsize=CACHE_SIZE)
def registered_domain(name: str) -> str | None:
    """The public suffix plus one label of a normalized host name; None for a suffix or an unknown one."""
    domain: str | None = _suffixes().privatesuffix(name)
    return domain


def host_name_expr(host: pl.Expr) -> pl.Expr:
    """``host`` lower case without its port or final dot; null for IP addresses and malformed names."""
    lowered = host.str.to_lowercase()
    name = lowered.str.replace(PORT, "").str.strip_chars_end(".")
    is_ip = lowered.str.contains(IP_ADDRESS) | lowered.str.starts_with("[") | name.str.contains(f"^{IPV4}$")
    valid = name.str.contains(HOST_NAME) & (name.str.len_chars() <= MAX_NAME_CHARS)
    return pl.when(~is_ip & valid).then(name)


def _domains(hosts: pl.Series) -> pl.Series:
    distinct = hosts.drop_nulls().unique()
    names = distinct.to_frame("host").select(host_name_expr(pl.col("host"))).to_series()
    table = pl.DataFrame({"host": distinct, "domain": per_distinct(names, registered_domain, pl.String())})
    keys = hosts.rename("host").to_frame()
    return keys.join(table, on="host", how="left", validate="m:1", maintain_order="left")["domain"]


def domain_expr(host: pl.Expr) -> pl.Expr:
    """The registered domain of ``host`` (``schema.ENRICHMENT_FIELDS["domain"]``).

    Hosts repeat (15 in 100,000 generated records), so even the normalization runs per distinct host.
    """
    return host.map_batches(_domains, return_dtype=pl.String)
