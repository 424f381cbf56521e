"""Where the saved objects point and which Dashboards tenant gets them. Parsed from ``[dashboards]``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from dashboards.settings import ClusterSettings
from enrich import schema as S
from enrich.config import DEFAULT_INDEX_PREFIX, ConfigError, only_keys, string, table

DEFAULT_INDEX_PATTERN_ID: Final = "waflens-events"
DEFAULT_TENANT: Final = "waflens"
# A saved-object id travels in URLs (/api/saved_objects/<type>/<id>) and in references: keep it plain.
_ID: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
# A tenant name travels in a URL path (the security API) and a header: letters, digits, _ and -.
_TENANT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
# The security plugin's own tenants: setup creates and grants its tenant, so it must not be one of these.
_BUILT_IN_TENANTS: Final = frozenset({"global", "global_tenant", "private", "__user__"})


@dataclass(frozen=True)
class DashboardSettings:
    """The index pattern every visualization reads, and the tenant the objects are imported into."""

    index_pattern_id: str = DEFAULT_INDEX_PATTERN_ID
    tenant: str = DEFAULT_TENANT
    index_pattern: str = ClusterSettings().index_pattern  # title of the index pattern: the daily indices
    time_field: str = S.TIMESTAMP

    @classmethod
    def from_mapping(cls, doc: Mapping[str, object]) -> DashboardSettings:
        """The ``[dashboards]`` table of a config document; the pattern's title follows ``[index] prefix``."""
        dashboards = table(doc.get("dashboards", {}), "dashboards")
        only_keys(dashboards, {"index_pattern_id", "tenant"}, "dashboards")
        index = table(doc.get("index", {}), "index")
        prefix = string(index.get("prefix", DEFAULT_INDEX_PREFIX), "index.prefix")
        settings = cls(
            index_pattern_id=string(
                dashboards.get("index_pattern_id", DEFAULT_INDEX_PATTERN_ID), "dashboards.index_pattern_id"
            ),
            tenant=string(dashboards.get("tenant", DEFAULT_TENANT), "dashboards.tenant"),
            index_pattern=ClusterSettings(index_prefix=prefix).index_pattern,
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ConfigError when an id or a tenant name could not be used as Dashboards expects."""
        if not _ID.fullmatch(self.index_pattern_id):
            raise ConfigError(
                f"dashboards.index_pattern_id {self.index_pattern_id!r} must be 1-100 letters, digits,"
                " . _ or - starting with a letter or digit"
            )
        if not _TENANT.fullmatch(self.tenant):
            raise ConfigError(
                f"dashboards.tenant {self.tenant!r} must be 1-100 letters, digits, _ or -"
                " starting with a letter or digit"
            )
        if self.tenant.lower() in _BUILT_IN_TENANTS:
            raise ConfigError(
                f"dashboards.tenant {self.tenant!r} is built into the security plugin; name a tenant of"
                " waflens's own (setup creates it and grants it to the waflens roles)"
            )
