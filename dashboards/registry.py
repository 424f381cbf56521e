"""The registry of everything ``waflens setup`` puts on a cluster: one function, one list, one place to add.

``setup_content(doc)`` turns a config document into the cluster requests (in the order they must be
applied), the Dashboards saved objects and the tenant those objects go into. Applying them is
``ingest.setup``'s job; rendering them to files is ``waflens setup --render``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from dashboards.alerts import alert_requests
from dashboards.alerts.rules import AlertRules
from dashboards.cluster import ClusterRequest, setup_requests
from dashboards.saved_objects import DashboardSettings, saved_objects
from dashboards.security import AccessConfig, security_requests
from dashboards.settings import ClusterSettings
from enrich.config import EnrichConfig

DEFAULT_TENANT: Final = "waflens"


class Reference(Protocol):
    """One saved-object reference: a named link to another object."""

    @property
    def name(self) -> str: ...

    @property
    def type(self) -> str: ...

    @property
    def id(self) -> str: ...


class SavedObject(Protocol):
    """What setup needs of a Dashboards saved object (visualization, dashboard, search, index pattern)."""

    @property
    def type(self) -> str: ...

    @property
    def id(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, object]:
        """The object's attributes; ``visState``, ``panelsJSON`` and the like are JSON strings."""
        ...

    @property
    def references(self) -> Sequence[Reference]: ...

    def as_dict(self) -> Mapping[str, object]:
        """The object as one line of an ``_import`` ndjson file."""
        ...


@dataclass(frozen=True)
class SetupContent:
    """Everything setup applies: requests in apply order, saved objects, and their tenant."""

    requests: tuple[ClusterRequest, ...]
    saved_objects: tuple[SavedObject, ...] = ()
    tenant: str = DEFAULT_TENANT


def setup_content(doc: Mapping[str, object]) -> SetupContent:
    """The cluster content a config document describes (``{}``: the defaults)."""
    cluster = ClusterSettings.from_mapping(doc)
    board = DashboardSettings.from_mapping(doc)
    enrich = EnrichConfig.from_mapping(doc)
    # The one place content is registered; ingest.setup applies it in kind order.
    requests: list[ClusterRequest] = [
        *setup_requests(cluster),
        *security_requests(AccessConfig.from_mapping(doc), enrich, cluster, tenant=board.tenant),
        *alert_requests(AlertRules.from_mapping(doc), cluster.index_pattern),
    ]
    return SetupContent(requests=tuple(requests), saved_objects=saved_objects(board), tenant=board.tenant)
