"""What the stack takes from the waflens config file it ships: index prefix, teams, writers, GeoIP files.

The functions and ``waflens setup`` read the same file, so the ingesters' OpenSearch permissions name
the indices setup creates, and the blocked-requests alarms name the teams the handlers report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from dashboards.security.access import AccessConfig
from enrich.config import ConfigError
from enrich.geo import GeoIPFiles
from infra.settings import InfraConfigError
from ingest.config_file import load_config, load_document

UNOWNED = "unowned"  # the Team dimension of a blocked request whose rule has no owner (ingest.metrics)


@dataclass(frozen=True)
class ConfigFacts:
    """The parts of a waflens config file the stack is shaped by."""

    index_prefix: str
    teams: tuple[str, ...]  # every value the BlockedRequests metric's Team dimension can take
    writer_roles: tuple[str, ...]  # [access.roles.writer] backend_roles: IAM role ARNs mapped to writer
    geoip: GeoIPFiles

    @classmethod
    def load(cls, path: Path) -> ConfigFacts:
        """Read ``path`` as the functions will; a mistake in it fails synthesis with one sentence."""
        try:
            enrich, cluster = load_config(path)
            access = AccessConfig.from_mapping(load_document(path))
        except ConfigError as exc:
            raise InfraConfigError(f"context config: {exc}") from None
        owners = {selector.owner.team for selector in enrich.selectors}
        return cls(
            index_prefix=cluster.index_prefix,
            teams=tuple(sorted(owners | {enrich.default_owner.team, UNOWNED})),
            writer_roles=access.writer.backend_roles,
            geoip=enrich.geoip,
        )

    def maps_writer(self, role_name: str) -> bool:
        """Whether ``[access.roles.writer]`` maps an IAM role of this name (in any account)."""
        return any(arn.endswith(f":role/{role_name}") for arn in self.writer_roles)
