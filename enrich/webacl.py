"""The web ACL a record names, parsed from ``webaclId`` (an ARN in WAFv2, a bare GUID in WAF Classic).

Parsing is lenient because published and anonymised logs break ARNs in every way (waf-log-format.md
§6.8): a missing or non-numeric account, a fake region. Whatever does not parse leaves the parsed
fields null; ``webaclId`` itself is never touched.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from enrich import schema as S

# arn:<partition>:wafv2:<region>:<account>:<global|regional>/webacl/<name>/<id>; the account may be absent.
WEBACL_ARN: Final = (
    r"^arn:(?P<partition>aws[a-z-]*):wafv2:(?P<region>[^:]*):(?:(?P<account>[^:/]*):)?"
    r"(?P<scope>global|regional)/webacl/(?P<name>[^/]+)/(?P<id>[^/]+)$"
)
CLASSIC_GUID: Final = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
ACCOUNT_ID: Final = r"^[0-9]{12}$"  # ASCII only: \d would take full-width digits into folder names


def webacl_expr(webacl_id: pl.Expr) -> pl.Expr:
    """A ``schema.WEBACL`` struct parsed from the web ACL id."""
    parts = webacl_id.str.extract_groups(WEBACL_ARN)
    is_arn = parts.struct.field("scope").is_not_null()
    is_classic = webacl_id.str.contains(CLASSIC_GUID)
    account = parts.struct.field("account")
    return pl.struct(
        kind=pl.when(is_arn)
        .then(pl.lit("wafv2"))
        .when(is_classic)
        .then(pl.lit("classic"))
        .otherwise(pl.lit("unparsed")),
        partition=parts.struct.field("partition"),
        region=parts.struct.field("region"),
        account_id=pl.when(account.str.contains(ACCOUNT_ID)).then(account),
        scope=parts.struct.field("scope").replace_strict(
            {"global": "CLOUDFRONT", "regional": "REGIONAL"}, default=None, return_dtype=pl.String
        ),
        name=parts.struct.field("name"),
        id=pl.when(is_arn).then(parts.struct.field("id")).when(is_classic).then(webacl_id),
    ).cast(S.WEBACL)


def with_webacl(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add the parsed web ACL as ``_webacl``.

    A batch names a handful of web ACLs: each distinct id is parsed once and joined back (the regexes
    over every row cost five times as much).
    """
    ids = frame.select(pl.col("webaclId").unique())
    parsed = ids.with_columns(webacl_expr(pl.col("webaclId")).alias("_webacl"))
    return frame.join(parsed, on="webaclId", how="left", maintain_order="left", nulls_equal=True)
