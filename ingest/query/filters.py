"""The one filter model behind ``waflens query`` and ``waflens explain``, whatever the backend.

Each field narrows the events; unset fields do not. Both renderings (``lake.predicate`` and
``opensearch.search_body``) read the same fields with the same meaning, and tests hold them to it.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from enrich.config import ConfigError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
ACTIONS: Final = ("ALLOW", "BLOCK", "CAPTCHA", "CHALLENGE")
_ACCOUNT: Final = re.compile(r"\d{12}")


@dataclass(frozen=True)
class Filters:
    """What a responder asks for; every set field must hold for an event to be found.

    * ``ip``: the client address is in this network (a single address is a /32 or /128);
    * ``rule``: the terminating rule (``terminatingRuleId``) or any rule that matched
      (``waflens.rule_ids``: inner rules of rule groups, counted, excluded and rate-based rules);
    * ``request_id``: ``httpRequest.requestId``;
    * ``actions``: the terminating action is one of these;
    * ``web_acl``: the web ACL's name; ``account``: the web ACL's AWS account id;
    * ``team``: the team of the event's account tags OR the team owning the rule group that decided,
      so a team finds both the traffic to its accounts and what its rules did elsewhere;
    * ``since`` (inclusive) and ``until`` (exclusive): the event's own time;
    * ``text``: a case-insensitive substring of the URI, the query string or the user agent.
    """

    ip: Network | None = None
    rule: str | None = None
    request_id: str | None = None
    actions: tuple[str, ...] = ()
    web_acl: str | None = None
    account: str | None = None
    team: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None

    def __post_init__(self) -> None:
        unknown = [a for a in self.actions if a not in ACTIONS]
        if unknown:
            raise ConfigError(f"--action {unknown[0]!r} is not one of {', '.join(ACTIONS)}")
        if self.account is not None and not _ACCOUNT.fullmatch(self.account):
            raise ConfigError(f"--account {self.account!r} is not a 12-digit AWS account id")
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ConfigError("--since must be before --until")
        for name in ("rule", "request_id", "web_acl", "team", "text"):
            if getattr(self, name) == "":
                raise ConfigError(f"--{name.replace('_', '-')} must not be empty")


def milliseconds(moment: datetime) -> datetime:
    """``moment`` in UTC cut to the millisecond: events carry milliseconds, so both backends compare
    against the same instant (``2h`` ago has microseconds, an OpenSearch date range does not)."""
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


def network(text: str) -> Network:
    """An address or CIDR block, IPv4 or IPv6 (host bits may be set: ``10.1.2.3/8`` is ``10.0.0.0/8``)."""
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ConfigError(
            f"--ip {text!r} is not an IP address or CIDR block "
            "(e.g. 203.0.113.9, 203.0.113.0/24, 2001:db8::/32)"
        ) from None


def address_range(net: Network) -> tuple[str, str]:
    """The first and last address of ``net`` as 32 hex digits of its 128-bit form (IPv4 as ::ffff:a.b.c.d).

    OpenSearch's ``ip`` type stores every address in that 128-bit form, so an IPv4 block also holds
    the IPv4-mapped IPv6 spelling of its addresses; fixed-width hex sorts like the numbers it spells.
    """
    offset = 0xFFFF_0000_0000 if net.version == 4 else 0
    first = int(net.network_address) + offset
    last = int(net.broadcast_address) + offset
    return f"{first:032x}", f"{last:032x}"
