"""Enrichment configuration as frozen values, parsed from a plain mapping (a TOML or JSON document).

Reading the file is the caller's job (``ingest.config_file``); everything here is pure so a bad file
fails at cold start with a sentence that names the offending key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, TypeGuard, get_args

# ConfigError and the shape checks live in enrich.config_values; they are re-exported from here too.
from enrich.config_values import ConfigError as ConfigError
from enrich.config_values import only_keys as only_keys
from enrich.config_values import sequence as _list
from enrich.config_values import string as string
from enrich.config_values import strings as _strings
from enrich.config_values import table as table
from enrich.geo import GeoIPFiles
from enrich.owasp import OwaspMap

Layer = Literal["first", "last", "unassigned"]
SelectorKind = Literal["rule_group", "managed", "rule_group_pattern", "web_acl_rule"]

# Header names whose values never leave the ingester (DESIGN.md, contract 3). Matched case-insensitively.
DEFAULT_REDACTED_HEADERS: Final = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-amz-security-token",
    "x-auth-token",
    "x-csrf-token",
    "x-xsrf-token",
)
# Query-argument names whose values never leave the ingester (in args, uri and any URL), names kept.
DEFAULT_REDACTED_QUERY_ARGS: Final = (
    "access_token",
    "refresh_token",
    "id_token",
    "token",
    "auth_token",
    "api_key",
    "apikey",
    "api-key",
    "client_secret",
    "password",
    "passwd",
    "pwd",
    "secret",
    "signature",
    "sig",
    "x-amz-signature",
    "x-amz-security-token",
    "x-amz-credential",
    "jsessionid",
    "phpsessid",
    "sessionid",
)
# An HTTP header name (RFC 9110 token) and a query-argument name (no separators or spaces).
_HEADER_NAME: Final = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_ARG_NAME: Final = re.compile(r"[^\s=&;#?/\\\"]+")
# What a redaction marker may hold: nothing a URL, a JSON string or a regex replacement gives meaning to.
MARKER_SHAPE: Final = re.compile(r"[A-Za-z0-9 _.*()\[\]-]{1,64}")
# The same marker WAF itself writes for redacted fields, so one dashboard filter covers both.
DEFAULT_MARKER: Final = "REDACTED"
DEFAULT_INDEX_PREFIX: Final = "waflens-events"
ACCOUNT_TAG_KEYS: Final = ("name", "team", "environment", "cost_centre", "business_unit")


@dataclass(frozen=True)
class Owner:
    """Who answers for a rule or rule group, and where it sits in the web ACL."""

    team: str
    layer: Layer = "unassigned"
    oncall: str | None = None


UNOWNED: Final = Owner(team="unowned", layer="unassigned", oncall=None)


@dataclass(frozen=True)
class Selector:
    """One way of recognising a rule group (or, when none acted, a web ACL rule) that an owner owns.

    ``rule_group``: an exact rule group id (ARN or ``AWS#Name[#Version_x]``);
    ``managed``: an AWS managed rule group name, any version (``AWSManagedRulesCommonRuleSet``);
    ``rule_group_pattern``: a glob (``*``, ``?``) over the rule group id;
    ``web_acl_rule``: a glob over ``terminatingRuleId`` when no rule group terminated
    (``Default_Action``, a rate-based rule, Firewall Manager ``PREFMManaged*`` rules).
    Precedence follows that order; within a kind, the first owner in the file wins.
    """

    kind: SelectorKind
    value: str
    owner: Owner


@dataclass(frozen=True)
class AccountTags:
    """Tags of one AWS account, as AWS Organizations or a file declares them."""

    account_id: str
    name: str | None = None
    team: str | None = None
    environment: str | None = None
    cost_centre: str | None = None
    business_unit: str | None = None


def overlay_accounts(base: Sequence[AccountTags], override: Sequence[AccountTags]) -> tuple[AccountTags, ...]:
    """Accounts from ``base`` (AWS Organizations) with ``override`` (the config file) winning tag by tag.

    A tag the override leaves unset keeps the base's value; accounts only one side knows are kept as is.
    """
    merged = {a.account_id: a for a in base}
    for account in override:
        known = merged.get(account.account_id)
        if known is None:
            merged[account.account_id] = account
            continue
        tags = {key: getattr(account, key) or getattr(known, key) for key in ACCOUNT_TAG_KEYS}
        merged[account.account_id] = AccountTags(account_id=account.account_id, **tags)
    return tuple(merged[key] for key in sorted(merged))


@dataclass(frozen=True)
class EnrichConfig:
    """Everything the pure enrichment needs; build it once at the edge."""

    selectors: tuple[Selector, ...] = ()
    default_owner: Owner = UNOWNED
    accounts: tuple[AccountTags, ...] = ()
    redacted_headers: tuple[str, ...] = DEFAULT_REDACTED_HEADERS
    redacted_query_args: tuple[str, ...] = DEFAULT_REDACTED_QUERY_ARGS
    redaction_marker: str = DEFAULT_MARKER
    index_prefix: str = DEFAULT_INDEX_PREFIX
    # extra per-account defaults for accounts absent from ``accounts``
    account_defaults: AccountTags = field(default_factory=lambda: AccountTags(account_id=""))
    owasp: OwaspMap = field(default_factory=OwaspMap)  # [owasp]: the built-in table and the file's entries
    geoip: GeoIPFiles = field(default_factory=GeoIPFiles)  # [geoip]: MaxMind files the edge opens

    @classmethod
    def from_mapping(cls, doc: Mapping[str, object]) -> EnrichConfig:
        """Parse a configuration document; raise ConfigError naming the offending key."""
        # [retention] and the sizing keys of [index] belong to dashboards.settings.ClusterSettings,
        # [organizations] (which tags hold the account fields) to ingest.accounts
        only_keys(
            doc,
            {
                "owners",
                "default_owner",
                "accounts",
                "account_defaults",
                "redaction",
                "index",
                "retention",
                "organizations",
                # read by the modules that own them: dashboards.* (access, alerts, dashboards),
                # enrich.owasp (owasp), enrich.geo (geoip)
                "access",
                "alerts",
                "dashboards",
                "owasp",
                "geoip",
            },
            "",
        )
        selectors = _selectors(_list(doc.get("owners", []), "owners"))
        default_owner = _owner(table(doc.get("default_owner", {}), "default_owner"), "default_owner", UNOWNED)
        accounts = _accounts(table(doc.get("accounts", {}), "accounts"))
        defaults = _account_tags(
            "", table(doc.get("account_defaults", {}), "account_defaults"), "account_defaults"
        )
        redaction = table(doc.get("redaction", {}), "redaction")
        only_keys(redaction, {"headers", "query_args", "replace_defaults", "marker"}, "redaction")
        headers = _names(redaction, "headers", _HEADER_NAME, "an HTTP header name")
        query_args = _names(redaction, "query_args", _ARG_NAME, "a query argument name")
        replace = redaction.get("replace_defaults", False) is True
        base = () if replace else DEFAULT_REDACTED_HEADERS
        base_args = () if replace else DEFAULT_REDACTED_QUERY_ARGS
        marker = string(redaction.get("marker", DEFAULT_MARKER), "redaction.marker")
        if not MARKER_SHAPE.fullmatch(marker):
            raise ConfigError(
                f"redaction.marker {marker!r} must be 1-64 letters, digits, spaces or _ . * ( ) [ ] -"
            )
        if not (*base, *headers):
            raise ConfigError("redaction.headers must name at least one header when replace_defaults is true")
        index = table(doc.get("index", {}), "index")
        only_keys(index, {"prefix", "shards", "replicas", "refresh_interval", "codec"}, "index")
        prefix = string(index.get("prefix", DEFAULT_INDEX_PREFIX), "index.prefix")
        if not prefix or prefix != prefix.lower() or any(c in prefix for c in ' "*\\<|,>/?#:'):
            raise ConfigError(f"index.prefix {prefix!r} is not a valid OpenSearch index name prefix")
        return cls(
            selectors=selectors,
            default_owner=default_owner,
            accounts=accounts,
            redacted_headers=tuple(dict.fromkeys((*base, *headers))),
            redacted_query_args=tuple(dict.fromkeys((*base_args, *query_args))),
            redaction_marker=marker,
            index_prefix=prefix,
            account_defaults=defaults,
            owasp=OwaspMap.from_mapping(table(doc.get("owasp", {}), "owasp")),
            geoip=GeoIPFiles.from_mapping(table(doc.get("geoip", {}), "geoip")),
        )


def _selectors(owners: Sequence[object]) -> tuple[Selector, ...]:
    seen: dict[tuple[str, str], int] = {}
    out: list[Selector] = []
    for i, raw in enumerate(owners):
        where = f"owners[{i}]"
        entry = table(raw, where)
        only_keys(entry, {"team", "layer", "oncall", *get_args(SelectorKind)}, where)
        owner = _owner(entry, where, None)
        for kind in get_args(SelectorKind):
            for value in _strings(entry.get(kind, []), f"{where}.{kind}"):
                if (kind, value) in seen:
                    raise ConfigError(
                        f"{where}.{kind}: {value!r} is already owned by owners[{seen[kind, value]}]"
                    )
                seen[kind, value] = i
                out.append(Selector(kind=kind, value=value, owner=owner))
    return tuple(out)


def _names(table_: Mapping[str, object], key: str, shape: re.Pattern[str], what: str) -> tuple[str, ...]:
    names = _strings(table_.get(key, []), f"redaction.{key}")
    for i, name in enumerate(names):
        if not shape.fullmatch(name):
            raise ConfigError(f"redaction.{key}[{i}] {name!r} is not {what}")
    return tuple(n.lower() for n in names)


def _owner(entry: Mapping[str, object], where: str, fallback: Owner | None) -> Owner:
    if fallback is not None and not entry:
        return fallback
    team = entry.get("team")
    if not isinstance(team, str) or not team:
        raise ConfigError(f"{where}.team must be a non-empty string")
    layer = entry.get("layer", "unassigned")
    if not _is_layer(layer):
        raise ConfigError(f"{where}.layer must be one of {', '.join(get_args(Layer))}, not {layer!r}")
    oncall = entry.get("oncall")
    if oncall is not None and not isinstance(oncall, str):
        raise ConfigError(f"{where}.oncall must be a string")
    return Owner(team=team, layer=layer, oncall=oncall)


def _is_layer(value: object) -> TypeGuard[Layer]:
    return value in get_args(Layer)


def _accounts(accounts: Mapping[str, object]) -> tuple[AccountTags, ...]:
    out = []
    for account_id, tags in accounts.items():
        if not re.fullmatch(r"[0-9]{12}", account_id):
            raise ConfigError(f"accounts.{account_id}: an AWS account id is 12 digits (quote it in TOML)")
        out.append(_account_tags(account_id, table(tags, f"accounts.{account_id}"), f"accounts.{account_id}"))
    return tuple(out)


def _account_tags(account_id: str, tags: Mapping[str, object], where: str) -> AccountTags:
    only_keys(tags, set(ACCOUNT_TAG_KEYS), where)
    values = {k: string(tags[k], f"{where}.{k}") for k in ACCOUNT_TAG_KEYS if k in tags}
    return AccountTags(account_id=account_id, **values)
