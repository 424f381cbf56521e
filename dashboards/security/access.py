"""Who may do what on the cluster: the ``[access]`` table of the config file, as frozen values.

Identity providers (SAML, OIDC) send group names and Amazon OpenSearch Service sends the IAM role of a
signed request: to the security plugin both are *backend roles*, matched exactly. Internal users (basic
auth) are matched by user name. Parsing is pure, so a bad table fails at setup with one sentence naming
the key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal, get_args

from enrich.config import ConfigError, only_keys, table

RoleName = Literal["analyst", "responder", "oncall", "admin", "writer"]
ROLE_NAMES: Final[tuple[RoleName, ...]] = get_args(RoleName)
# arn:<partition>:iam::<account>:role/<path/>name (IAM names: letters, digits and +=,.@_-).
_IAM_ARN: Final = re.compile(
    r"arn:aws(?:-cn|-us-gov|-iso|-iso-b)?:iam::(?P<account>\d{12}):(?P<kind>role|user)/"
    r"(?:[\x21-\x7e]*/)?[\w+=,.@-]{1,64}"
)
_LOOKS_LIKE_ARN: Final = "arn:"


@dataclass(frozen=True)
class Principals:
    """The backend roles (IdP groups, IAM role ARNs) and internal users that get one role."""

    backend_roles: tuple[str, ...] = ()
    users: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.backend_roles or self.users)


@dataclass(frozen=True)
class TeamAccess:
    """The principals of one team's document-level-security role."""

    team: str
    principals: Principals


@dataclass(frozen=True)
class AccessConfig:
    """Principals for each built-in role and for each team; nobody is mapped by default."""

    analyst: Principals = Principals()
    responder: Principals = Principals()
    oncall: Principals = Principals()
    admin: Principals = Principals()
    writer: Principals = Principals()
    teams: tuple[TeamAccess, ...] = ()

    def principals(self, role: RoleName) -> Principals:
        """Who is mapped to the built-in ``role``."""
        found: Principals = getattr(self, role)
        return found

    def team(self, name: str) -> Principals:
        """Who is mapped to ``name``'s team role (nobody when ``[access.teams]`` does not list it)."""
        return next((t.principals for t in self.teams if t.team == name), Principals())

    @classmethod
    def from_mapping(cls, doc: Mapping[str, object]) -> AccessConfig:
        """The ``[access]`` table of a config document (absent: nobody is mapped)."""
        access = table(doc.get("access", {}), "access")
        only_keys(access, {"roles", "teams"}, "access")
        roles = table(access.get("roles", {}), "access.roles")
        unknown = sorted(set(roles) - set(ROLE_NAMES))
        if unknown:
            raise ConfigError(
                f"unknown role access.roles.{unknown[0]} (the built-in roles are: {', '.join(ROLE_NAMES)})"
            )
        mapped = {name: _principals(roles[name], f"access.roles.{name}") for name in roles}
        teams = table(access.get("teams", {}), "access.teams")
        team_access = []
        for name, entry in teams.items():
            if not name.strip():
                raise ConfigError("access.teams: a team name must not be empty")
            team_access.append(TeamAccess(name, _principals(entry, f'access.teams."{name}"')))
        return cls(**mapped, teams=tuple(team_access))


def _principals(value: object, where: str) -> Principals:
    entry = table(value, where)
    only_keys(entry, {"backend_roles", "users"}, where)
    backend_roles = _names(entry.get("backend_roles", []), f"{where}.backend_roles")
    users = _names(entry.get("users", []), f"{where}.users")
    for i, name in enumerate(backend_roles):
        _check_arn(name, "role", f"{where}.backend_roles[{i}]")
    for i, name in enumerate(users):
        _check_arn(name, "user", f"{where}.users[{i}]")
    return Principals(backend_roles=backend_roles, users=users)


def _names(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"{where} must be a list of names")
    names: list[str] = []
    for i, name in enumerate(value):
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise ConfigError(f"{where}[{i}] must be a non-empty name without surrounding spaces")
        if name in names:
            raise ConfigError(f"{where}[{i}] {name!r} is listed twice")
        names.append(name)
    return tuple(names)


def _check_arn(name: str, expected: Literal["role", "user"], where: str) -> None:
    """IAM principals are matched by their exact ARN: catch the shapes that would never match."""
    if not name.startswith(_LOOKS_LIKE_ARN):
        return
    if ":sts::" in name:
        raise ConfigError(
            f"{where} {name!r} is an STS session; map the IAM role ARN "
            f"(arn:aws:iam::<account>:role/<name>) that the session assumes"
        )
    match = _IAM_ARN.fullmatch(name)
    if match is None:
        raise ConfigError(f"{where} {name!r} is not an IAM ARN like arn:aws:iam::123456789012:role/name")
    if match["kind"] != expected:
        key = "backend_roles" if match["kind"] == "role" else "users"
        raise ConfigError(f"{where} {name!r} is an IAM {match['kind']}; list it under {key}")
