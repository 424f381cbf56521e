"""Tiny MaxMind databases written at test time (no binary files in the repository)."""

from __future__ import annotations

from pathlib import Path

from mmdb_writer import MMDBWriter
from netaddr import IPSet

# network -> (country, city): a City database that also holds an IPv6 network
CITIES = {
    "198.51.100.0/24": ("FR", "Paris"),
    "203.0.113.0/24": ("US", "Seattle"),
    "2001:db8::/32": ("DE", "Berlin"),
}
# network -> (ASN, organization): an IPv4-only ASN database
NETWORKS = {"198.51.100.0/24": (64500, "Example Transit"), "203.0.113.0/24": (64501, "Documentation Net")}


def write_city(path: Path, cities: dict[str, tuple[str, str]] = CITIES) -> Path:
    """A City database holding ``cities`` (network -> (country, city))."""
    writer = MMDBWriter(ip_version=6, ipv4_compatible=True, database_type="GeoLite2-City")
    for network, (country, city) in cities.items():
        record = {"country": {"iso_code": country}, "city": {"names": {"en": city}}}
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path


def write_asn(path: Path, networks: dict[str, tuple[int, str]] = NETWORKS) -> Path:
    """An IPv4-only ASN database holding ``networks`` (network -> (ASN, organization))."""
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-ASN")
    for network, (asn, org) in networks.items():
        record = {"autonomous_system_number": asn, "autonomous_system_organization": org}
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path
