"""GeoIP: WAF's country and ASN stay the source of truth; databases the user owns fill in the rest."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import polars as pl
import pytest

from devtools.bench_reference import Reference
from enrich import schema as S
from enrich.config import ConfigError, EnrichConfig
from enrich.geo import GeoIPFiles, GeoLookup, GeoRecord
from ingest.compose import Settings, build_pipeline
from ingest.geoip import MaxMindLookup, open_geoip
from tests.support.geoip import write_asn, write_city
from tests.support.pipeline import documents_by_id, enriched

NOTHING: GeoRecord = {"country": None, "city": None, "asn": None, "as_org": None}


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("geoip")
    return write_city(root / "GeoLite2-City.mmdb"), write_asn(root / "GeoLite2-ASN.mmdb")


@pytest.fixture
def lookup(databases: tuple[Path, Path]) -> Iterator[MaxMindLookup]:
    city, asn = databases
    opened = open_geoip(GeoIPFiles(city=str(city), asn=str(asn)))
    assert opened is not None
    yield opened
    opened.close()


def request(ip: str, country: str | None = "-", asn: int | None = None) -> str:
    record: dict[str, Any] = {
        "timestamp": 1767571200123,
        "webaclId": "arn:aws:wafv2:eu-west-1:111111111111:regional/webacl/api/5933d6d9",
        "terminatingRuleId": "Default_Action",
        "terminatingRuleType": "REGULAR",
        "action": "ALLOW",
        "httpRequest": {"clientIp": ip, "country": country, "headers": [], "uri": f"/{ip}/{country}/{asn}"},
    }
    if asn is not None:
        record["clientAsn"] = asn
    return orjson.dumps(record).decode()


def geo_of(*lines: str, geo: GeoLookup | None, projection: pl.Schema = S.WAF_RECORD) -> list[dict[str, Any]]:
    frame = enriched(lines, geo=geo, projection=projection)
    rows: list[dict[str, Any]] = frame.select(pl.col(S.ENRICHMENT).struct.field("geo")).to_series().to_list()
    return rows


def test_the_databases_fill_country_city_asn_and_organization_when_waf_could_not(
    lookup: MaxMindLookup,
) -> None:
    assert geo_of(request("198.51.100.7"), geo=lookup) == [
        {"country": "FR", "city": "Paris", "asn": 64500, "as_org": "Example Transit"}
    ]


def test_wafs_country_and_asn_win_and_nothing_from_a_disagreeing_database_is_mixed_in(
    lookup: MaxMindLookup,
) -> None:
    lines = (
        request("198.51.100.7", country="BE", asn=65000),  # WAF disagrees with the databases
        request("198.51.100.7", country="FR", asn=64500),  # WAF agrees
        request("198.51.100.7", country="FR", asn=0),  # 0: WAF does not know the ASN
    )
    assert geo_of(*lines, geo=lookup) == [
        {"country": "BE", "city": None, "asn": 65000, "as_org": None},
        {"country": "FR", "city": "Paris", "asn": 64500, "as_org": "Example Transit"},
        {"country": "FR", "city": "Paris", "asn": 64500, "as_org": "Example Transit"},
    ]


def test_addresses_the_databases_do_not_hold_leave_the_fields_empty(lookup: MaxMindLookup) -> None:
    lines = (
        request("2001:db8::5"),  # in the City database; the ASN database is IPv4 only
        request("192.0.2.1"),  # in neither
        request("X.X.X.X", country="US"),  # masked by WAF: never looked up
    )
    assert geo_of(*lines, geo=lookup) == [
        {"country": "DE", "city": "Berlin", "asn": None, "as_org": None},
        NOTHING,
        {**NOTHING, "country": "US"},
    ]


@pytest.mark.parametrize("projection", [S.WAF_RECORD, S.ENRICH_INPUT])
def test_without_databases_geo_carries_what_waf_logged(projection: pl.Schema) -> None:
    lines = (request("198.51.100.7", country="NL", asn=1136), request("198.51.100.7"))
    assert geo_of(*lines, geo=None, projection=projection) == [
        {"country": "NL", "city": None, "asn": 1136, "as_org": None},
        NOTHING,
    ]


def test_each_distinct_client_ip_is_looked_up_once(lookup: MaxMindLookup) -> None:
    asked: list[str] = []

    def counting(ip: str) -> GeoRecord:
        asked.append(ip)
        return lookup(ip)

    lines = [request(ip) for ip in ("198.51.100.7", "203.0.113.9", "X.X.X.X") * 50]
    cities = {g["city"] for g in geo_of(*lines, geo=counting)}
    assert cities == {"Paris", "Seattle", None}
    assert sorted(asked) == ["198.51.100.7", "203.0.113.9"]


def test_the_per_record_reference_builds_the_same_geo(lookup: MaxMindLookup) -> None:
    lines = [
        request("198.51.100.7"),
        request("198.51.100.7", country="BE", asn=65000),
        request("203.0.113.9", country="US", asn=0),
        request("2001:db8::5"),
        request("X.X.X.X", country="US"),
    ]
    config = EnrichConfig()
    pipeline = documents_by_id(enriched(lines, config=config, geo=lookup))
    reference = Reference(config, geo=lookup)
    for line in lines:
        action, doc = reference.bulk_lines(line.encode()).splitlines()
        meta = orjson.loads(action)["index"]
        assert pipeline[meta["_id"]] == (meta["_index"], orjson.loads(doc))


@pytest.mark.parametrize(
    ("geoip", "message"),
    [
        ({"country": "x.mmdb"}, "unknown key geoip.country (expected one of: asn, city)"),
        ({"city": 5}, "geoip.city must be a string"),
        ({"asn": " "}, "geoip.asn must be the path of a .mmdb file"),
        ("GeoLite2-City.mmdb", "geoip must be a table"),
    ],
)
def test_a_bad_geoip_table_is_one_sentence_naming_the_key(geoip: object, message: str) -> None:
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        EnrichConfig.from_mapping({"geoip": geoip})


def test_unusable_database_files_are_refused_naming_the_key_and_the_path(
    tmp_path: Path, databases: tuple[Path, Path]
) -> None:
    city, asn = databases
    not_mmdb = tmp_path / "notes.mmdb"
    not_mmdb.write_text("not a database")
    cases = [
        (
            GeoIPFiles(city=str(tmp_path / "missing.mmdb")),
            f"geoip.city: {tmp_path / 'missing.mmdb'} does not exist",
        ),
        (GeoIPFiles(asn=str(not_mmdb)), f"geoip.asn: {not_mmdb} is not a MaxMind database"),
        (GeoIPFiles(asn=str(city)), f"geoip.asn: {city} is a GeoLite2-City database, where ASN or ISP data"),
        (GeoIPFiles(city=str(asn)), f"geoip.city: {asn} is a GeoLite2-ASN database, where City or Country"),
    ]
    for files, message in cases:
        with pytest.raises(ConfigError, match="^" + re.escape(message)):
            open_geoip(files)
    assert open_geoip(GeoIPFiles()) is None


def test_the_composition_root_opens_databases_relative_to_the_config_file(
    tmp_path: Path, databases: tuple[Path, Path]
) -> None:
    city, _ = databases
    (tmp_path / "geo").mkdir()
    (tmp_path / "geo" / "city.mmdb").write_bytes(city.read_bytes())
    config = tmp_path / "waflens.toml"
    config.write_text('[geoip]\ncity = "geo/city.mmdb"\n')
    pipeline = build_pipeline(Settings(config=config, lake=str(tmp_path / "lake")))
    assert pipeline.geo is not None
    assert pipeline.geo("198.51.100.7") == {"country": "FR", "city": "Paris", "asn": None, "as_org": None}


def test_a_missing_database_stops_the_pipeline_before_any_work(tmp_path: Path) -> None:
    config = tmp_path / "waflens.toml"
    config.write_text('[geoip]\nasn = "/nowhere/GeoLite2-ASN.mmdb"\n')
    with pytest.raises(ConfigError) as caught:
        build_pipeline(Settings(config=config, lake=str(tmp_path / "lake")))
    assert str(caught.value) == (
        f"{config}: geoip.asn: /nowhere/GeoLite2-ASN.mmdb does not exist or is not a file"
    )
    assert not (tmp_path / "lake").exists() or not any((tmp_path / "lake").iterdir())
