"""Teams and their document-level security: a team sees its accounts' events and its rule groups' verdicts.

A team is anyone the enrichment config names: an owner of rule groups (``[[owners]]``, the default owner
aside), the ``team`` tag of an account (``[accounts."<id>"]``), or a ``[access.teams]`` entry. Its role
filters documents with one query: the accounts the config assigns it (by id, so documents indexed before
the account was tagged still match), OR any document whose account tag names the team (accounts tagged
by AWS Organizations at run time), OR any document its rule groups decided (``waflens.terminating``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Final

from dashboards.security.access import AccessConfig
from enrich.config import UNOWNED, ConfigError, EnrichConfig

# Field paths in the enriched document (enrich/schema.py, ENRICHMENT_FIELDS under ``waflens``).
ACCOUNT_ID: Final = "waflens.account.id"
ACCOUNT_TEAM: Final = "waflens.account.team"
OWNER_TEAM: Final = "waflens.terminating.owner.team"
_SLUG_SEPARATORS: Final = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class Team:
    """One team: its name as the config spells it, its role-name slug and the account ids assigned to it."""

    name: str
    slug: str
    account_ids: tuple[str, ...]

    @property
    def role(self) -> str:
        """The security plugin role of this team."""
        return f"waflens-team-{self.slug}"


def slug(team: str) -> str:
    """``Payments Eng`` → ``payments-eng``: lower case, runs of other characters become one ``-``."""
    return _SLUG_SEPARATORS.sub("-", team.lower()).strip("-")


def teams(access: AccessConfig, enrich: EnrichConfig) -> list[Team]:
    """Every team the config names, sorted by slug; ConfigError when two names share a role name."""
    unowned = {enrich.default_owner.team, UNOWNED.team}
    names = {s.owner.team for s in enrich.selectors if s.owner.team not in unowned}
    names |= {a.team for a in enrich.accounts if a.team}
    names |= {t.team for t in access.teams}
    found: dict[str, Team] = {}
    for name in sorted(names):
        team_slug = slug(name)
        if not team_slug:
            raise ConfigError(f"team {name!r} has no letters or digits to name its role after")
        if team_slug in found:
            raise ConfigError(
                f"teams {found[team_slug].name!r} and {name!r} would share the role "
                f"waflens-team-{team_slug}; rename one of them"
            )
        accounts = tuple(sorted(a.account_id for a in enrich.accounts if a.team == name))
        found[team_slug] = Team(name=name, slug=team_slug, account_ids=accounts)
    return [found[key] for key in sorted(found)]


def team_query(team: Team) -> dict[str, object]:
    """The query a team's documents match (bool/should of term and terms clauses only)."""
    should: list[dict[str, object]] = []
    if team.account_ids:
        should.append({"terms": {ACCOUNT_ID: list(team.account_ids)}})
    should.append({"term": {ACCOUNT_TEAM: team.name}})
    should.append({"term": {OWNER_TEAM: team.name}})
    return {"bool": {"should": should, "minimum_should_match": 1}}


def team_dls(team: Team) -> str:
    """The query as the JSON *string* the security plugin wants in ``index_permissions[].dls``."""
    return json.dumps(team_query(team), sort_keys=True, separators=(",", ":"))
