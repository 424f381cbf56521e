"""What the cluster side is told: index naming, shards, refresh, retention. Parsed from the config file."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from enrich.config import DEFAULT_INDEX_PREFIX, ConfigError, only_keys, table

_DURATION: Final = re.compile(r"^-1$|^\d+(ms|s|m|h|d)$")


@dataclass(frozen=True)
class ClusterSettings:
    """Index template and retention settings; defaults suit a small domain."""

    index_prefix: str = DEFAULT_INDEX_PREFIX
    shards: int = 1
    replicas: int = 1
    refresh_interval: str = "30s"
    codec: str = "best_compression"
    delete_after_days: int = 30
    warm_after_days: int = 7  # 0: no warm state, indices go from hot straight to delete

    @property
    def index_pattern(self) -> str:
        """The pattern matching every daily index."""
        return f"{self.index_prefix}-*"

    @property
    def template_name(self) -> str:
        """Name of the composable index template."""
        return self.index_prefix

    @property
    def policy_id(self) -> str:
        """Id of the ISM retention policy."""
        return f"{self.index_prefix}-retention"

    @classmethod
    def from_mapping(cls, doc: Mapping[str, object]) -> ClusterSettings:
        """The ``[index]`` and ``[retention]`` tables of a config document."""
        index = table(doc.get("index", {}), "index")
        retention = table(doc.get("retention", {}), "retention")
        only_keys(retention, {"delete_after_days", "warm_after_days"}, "retention")
        settings = cls(
            index_prefix=str(index.get("prefix", DEFAULT_INDEX_PREFIX)),
            shards=_int(index.get("shards", 1), "index.shards", 1),
            replicas=_int(index.get("replicas", 1), "index.replicas", 0),
            refresh_interval=str(index.get("refresh_interval", "30s")),
            codec=str(index.get("codec", "best_compression")),
            delete_after_days=_int(retention.get("delete_after_days", 30), "retention.delete_after_days", 1),
            warm_after_days=_int(retention.get("warm_after_days", 7), "retention.warm_after_days", 0),
        )
        settings.validate()
        return settings

    def validate(self) -> None:
        """Raise ConfigError when the settings cannot describe a working cluster setup."""
        if not _DURATION.match(self.refresh_interval):
            raise ConfigError(
                f"index.refresh_interval {self.refresh_interval!r} is not a duration like 30s or 1m"
            )
        if self.codec not in ("default", "best_compression", "zstd", "zstd_no_dict"):
            raise ConfigError(f"index.codec {self.codec!r} is not a known codec")
        if self.warm_after_days and self.warm_after_days >= self.delete_after_days:
            raise ConfigError(
                "retention.warm_after_days must be less than retention.delete_after_days (or 0)"
            )


def _int(value: object, where: str, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{where} must be a whole number >= {minimum}")
    return value
