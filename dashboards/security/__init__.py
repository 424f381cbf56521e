"""Security as code: the waflens tenant, its roles and who is mapped to them, as cluster requests.

``security_requests`` renders, in order, the tenant, one role per built-in persona and per team, and a
role mapping for each role that has at least one backend role or user. Every body's ``description`` ends
with ``[digest …]`` (as the ISM policy's does) so setup can tell that nothing changed. The security
plugin's role APIs need the domain's master user (or an admin certificate); no waflens role can call them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final

from dashboards.cluster import Body, ClusterRequest, digest
from dashboards.security import roles
from dashboards.security.access import ROLE_NAMES, AccessConfig, Principals, RoleName, TeamAccess
from dashboards.security.teams import Team, slug, team_dls, team_query, teams
from dashboards.settings import ClusterSettings
from enrich.config import ConfigError, EnrichConfig

__all__ = [
    "ROLE_NAMES",
    "AccessConfig",
    "Principals",
    "RoleName",
    "Team",
    "TeamAccess",
    "role_name",
    "security_requests",
    "slug",
    "team_dls",
    "team_query",
    "teams",
]
_API: Final = "/_plugins/_security/api"
_TENANT: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")
_BUILT_IN: dict[RoleName, Callable[[str, str], Body]] = {
    "analyst": roles.analyst,
    "responder": roles.responder,
    "oncall": roles.oncall,
    "admin": roles.admin,
    "writer": lambda pattern, _tenant: roles.writer(pattern),
}


def role_name(role: RoleName) -> str:
    """The security plugin name of a built-in role: ``waflens-<role>``."""
    return f"waflens-{role}"


def security_requests(
    access: AccessConfig, enrich: EnrichConfig, cluster: ClusterSettings, *, tenant: str = "waflens"
) -> list[ClusterRequest]:
    """Tenant, roles, then role mappings (only for roles someone is mapped to), in a stable order."""
    if not _TENANT.fullmatch(tenant):
        raise ConfigError(f"tenant {tenant!r} must be letters, digits, _ or - (it is part of a URL path)")
    pattern = cluster.index_pattern
    tenant_body = _digested({"description": f"waflens dashboards and saved searches over {pattern}"})
    requests = [ClusterRequest(f"tenant:{tenant}", "PUT", f"{_API}/tenants/{tenant}", tenant_body)]
    granted: list[tuple[str, Body, Principals]] = [
        (role_name(r), _BUILT_IN[r](pattern, tenant), access.principals(r)) for r in ROLE_NAMES
    ]
    granted += [(t.role, roles.team(t, pattern, tenant), access.team(t.name)) for t in teams(access, enrich)]
    for name, body, _ in granted:
        requests.append(ClusterRequest(f"role:{name}", "PUT", f"{_API}/roles/{name}", _digested(body)))
    for name, _, principals in granted:
        if principals:
            requests.append(
                ClusterRequest(
                    f"role-mapping:{name}", "PUT", f"{_API}/rolesmapping/{name}", _mapping(name, principals)
                )
            )
    return requests


def _mapping(role: str, principals: Principals) -> Body:
    body: Body = {"description": f"who gets {role}"}
    if principals.backend_roles:
        body["backend_roles"] = list(principals.backend_roles)
    if principals.users:
        body["users"] = list(principals.users)
    return _digested(body)


def _digested(body: Body) -> Body:
    """``body`` with ``[digest …]`` of itself appended to its description."""
    return {**body, "description": f"{body['description']} [digest {digest(body)}]"}
