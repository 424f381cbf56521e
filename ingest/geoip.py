"""The GeoIP databases ``[geoip]`` names, opened once at the edge: the only I/O behind ``waflens.geo``.

MaxMind's reader memory-maps each file (its C extension when installed), so lookups are cheap and the
files are read lazily by the OS; the handles live as long as the pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import maxminddb

from enrich.config_values import ConfigError
from enrich.geo import GeoIPFiles, GeoRecord

# Which databases each key takes, by the words in their metadata's database_type
# (GeoLite2-City, GeoIP2-Country, GeoLite2-ASN, GeoIP2-ISP, ...).
_EXPECTED: Final = {"city": ("City", "Country"), "asn": ("ASN", "ISP")}


def _field(record: Mapping[str, object] | None, *path: str) -> object:
    value: object = record
    for key in path:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _get(reader: maxminddb.Reader | None, ip: str) -> Mapping[str, object] | None:
    if reader is None:
        return None
    try:
        record = reader.get(ip)
    except ValueError:  # not an address this database can hold (IPv6 in an IPv4-only file)
        return None
    return record if isinstance(record, Mapping) else None


class MaxMindLookup:
    """``enrich.geo.GeoLookup`` over a City (or Country) database and an ASN database, either optional."""

    def __init__(self, *, city: maxminddb.Reader | None = None, asn: maxminddb.Reader | None = None) -> None:
        self._city, self._asn = city, asn

    def __call__(self, ip: str) -> GeoRecord:
        """What the databases hold for ``ip``; None for whatever they do not."""
        place, network = _get(self._city, ip), _get(self._asn, ip)
        country = _field(place, "country", "iso_code")
        city = _field(place, "city", "names", "en")
        asn = _field(network, "autonomous_system_number")
        org = _field(network, "autonomous_system_organization")
        return {
            "country": country if isinstance(country, str) else None,
            "city": city if isinstance(city, str) else None,
            "asn": asn if isinstance(asn, int) and not isinstance(asn, bool) else None,
            "as_org": org if isinstance(org, str) else None,
        }

    def close(self) -> None:
        """Release the memory maps."""
        for reader in (self._city, self._asn):
            if reader is not None:
                reader.close()


def _open(key: str, path: str, relative_to: Path | None) -> maxminddb.Reader:
    resolved = Path(path).expanduser()
    if not resolved.is_absolute() and relative_to is not None:
        resolved = relative_to / resolved
    if not resolved.is_file():
        raise ConfigError(f"geoip.{key}: {resolved} does not exist or is not a file")
    try:
        reader = maxminddb.open_database(resolved)
    except (OSError, ValueError, maxminddb.InvalidDatabaseError) as exc:
        raise ConfigError(f"geoip.{key}: {resolved} is not a MaxMind database ({exc})") from exc
    kind = reader.metadata().database_type
    if not any(word in kind for word in _EXPECTED[key]):
        reader.close()
        wanted = " or ".join(_EXPECTED[key])
        raise ConfigError(f"geoip.{key}: {resolved} is a {kind} database, where {wanted} data is expected")
    return reader


def open_geoip(files: GeoIPFiles, *, relative_to: Path | None = None) -> MaxMindLookup | None:
    """The lookup ``files`` name (None when they name none); relative paths are taken from ``relative_to``
    (the config file's folder). A missing or unreadable file raises ConfigError naming the key and path."""
    paths = {key: path for key, path in (("city", files.city), ("asn", files.asn)) if path is not None}
    if not paths:
        return None
    readers: dict[str, maxminddb.Reader] = {}
    try:
        for key, path in paths.items():
            readers[key] = _open(key, path, relative_to)
    except ConfigError:
        for reader in readers.values():
            reader.close()
        raise
    return MaxMindLookup(**readers)
