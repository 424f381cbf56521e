"""The threat fields end to end: ``waflens ingest --config`` with an [owasp] entry and GeoIP databases."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from enrich import schema as S
from enrich.owasp import CATEGORIES
from ingest.cli.main import main
from ingest.sinks.lake import scan_lake
from tests.support.geoip import write_asn, write_city
from tests.support.samples import sample

CONFIG = f"""
[geoip]
city = "geo/city.mmdb"   # relative to this file
asn = "geo/asn.mmdb"

[[owasp.map]]
rule_group_pattern = "arn:aws:wafv2:*/rulegroup/hello-world/*"
category = "{CATEGORIES[0]}"
"""


def test_the_lake_holds_categories_parsed_agents_domains_and_places(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "geo").mkdir()
    cities = {
        "1.1.1.0/24": ("AU", "Sydney"),
        "3.3.3.0/24": ("DE", "Frankfurt"),
        "72.21.198.0/24": ("US", "Seattle"),
    }
    write_city(tmp_path / "geo" / "city.mmdb", cities)
    write_asn(tmp_path / "geo" / "asn.mmdb", {"72.21.198.0/24": (16509, "AMAZON-02")})
    (tmp_path / "waflens.toml").write_text(CONFIG)
    lake = tmp_path / "lake"
    argv = ["ingest", str(sample("aws-docs-examples.ndjson")), "--lake", str(lake)]
    assert main([*argv, "--config", str(tmp_path / "waflens.toml")]) == 0
    capsys.readouterr()
    w = pl.col(S.ENRICHMENT).struct.field
    rows = (
        scan_lake(lake)
        .select(
            pl.col("terminatingRuleId"),
            pl.col("httpRequest").struct.field("clientIp"),
            w("owasp"),
            w("ua").struct.field("browser"),
            w("domain"),
            w("geo").struct.field("country", "city", "asn", "as_org"),
        )
        .collect()
        .rows()
    )
    api_gateway = "gamma.execute-api.us-east-1.amazonaws.com"
    amazon = ("US", "Seattle", 16509, "AMAZON-02")
    assert sorted(rows, key=str) == sorted(
        [
            ("STMTest_SQLi_XSS", "1.1.1.1", [], "curl", None, "AU", "Sydney", None, None),
            ("STMTest_SQLi_XSS", "1.1.1.1", [], None, None, "AU", "Sydney", None, None),  # no headers at all
            ("Default_Action", "3.3.3.3", [], "curl", None, "US", None, None, None),  # the databases disagree
            ("RG-Reference", "3.3.3.3", [CATEGORIES[0]], "curl", None, "US", None, None, None),
            ("Default_Action", "72.21.198.65", [], "Chrome", api_gateway, *amazon),
            ("captcha-rule", "72.21.198.65", [], "Chrome", api_gateway, *amazon),
        ],
        key=str,
    )
