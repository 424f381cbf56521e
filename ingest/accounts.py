"""Account tags from AWS Organizations: the account's name and the tags that say who answers for it.

``OrganizationsDirectory`` is the pipeline's ``AccountDirectory``: asked once per batch for the accounts
the batch names, it calls ``DescribeAccount`` (the name) and ``ListTagsForResource`` (the tags) for
each account it does not hold yet, and keeps the answers for a TTL across warm invocations. It never
raises: a throttled, denied or unreachable API leaves it answering with what it has (the config file's
``[accounts]`` then stand alone), says so through ``telemetry.account_tags_unavailable``, and pauses its
calls for a while so a throttled API is not hammered.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Final, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from enrich.config import AccountTags, ConfigError, only_keys, string, table
from ingest import telemetry
from ingest.config_file import load_document
from ingest.deadline import Clock

DEFAULT_TTL_SECONDS: Final = 3600.0
NOT_FOUND_SECONDS: Final = 900.0  # an account outside the organization: asked again after this (or the TTL)
PAUSE_SECONDS: Final = 60.0  # after a throttled, denied or failed call, no call for this long
# Standard retry mode (backoff with jitter, throttling retried) with few attempts and short timeouts: a
# lookup must not eat a Lambda's time; what fails is looked up again after the pause.
CLIENT_CONFIG: Final = Config(
    retries={"mode": "standard", "total_max_attempts": 3}, connect_timeout=2, read_timeout=5
)
_ACCOUNT_ID: Final = re.compile(r"[0-9]{12}")
_NOT_FOUND: Final = frozenset({"AccountNotFoundException", "TargetNotFoundException"})
_DENIED: Final = frozenset(
    {"AccessDeniedException", "AWSOrganizationsNotInUseException", "AccessDeniedForDependencyException"}
)
_THROTTLED: Final = frozenset({"TooManyRequestsException", "Throttling", "ThrottlingException"})
_MAX_TAG_KEY: Final = 128  # AWS tag keys are 1-128 characters


class _Paginator(Protocol):
    def paginate(self, **kwargs: str) -> Iterable[Mapping[str, Any]]: ...


class OrganizationsClient(Protocol):
    """The part of a boto3 ``organizations`` client the directory uses."""

    def describe_account(self, *, AccountId: str) -> Mapping[str, Any]: ...

    def get_paginator(self, operation_name: str) -> _Paginator: ...


def organizations_client() -> OrganizationsClient:
    """A boto3 ``organizations`` client (a global endpoint) with the directory's retry mode and timeouts."""
    client: OrganizationsClient = boto3.client("organizations", config=CLIENT_CONFIG)
    return client


@dataclass(frozen=True)
class TagKeys:
    """Which AWS tag keys hold each waflens account field, tried in order and matched case-insensitively.

    Configured under ``[organizations] tags`` of the config file: a tag key or a list of them per field.
    """

    team: tuple[str, ...] = ("team",)
    environment: tuple[str, ...] = ("environment", "env")
    cost_centre: tuple[str, ...] = ("cost-centre", "cost_centre", "costcentre", "cost-center", "costcenter")
    business_unit: tuple[str, ...] = ("business-unit", "business_unit", "businessunit")

    @classmethod
    def from_mapping(cls, doc: Mapping[str, object]) -> TagKeys:
        """The tag keys of a config document's ``[organizations]`` table; ConfigError names the key."""
        organizations = table(doc.get("organizations", {}), "organizations")
        only_keys(organizations, {"tags"}, "organizations")
        tags = table(organizations.get("tags", {}), "organizations.tags")
        names = [f.name for f in fields(cls)]
        only_keys(tags, set(names), "organizations.tags")
        return cls(**{name: _tag_keys(tags[name], f"organizations.tags.{name}") for name in tags})

    def read(self, account_id: str, name: str | None, tags: Iterable[Mapping[str, str]]) -> AccountTags:
        """One account's ``AccountTags`` from its name and its ``[{"Key": ..., "Value": ...}]`` tags."""
        # AWS tag keys are case-sensitive, so "Team" and "team" can both exist: the first in key order wins.
        by_key: dict[str, str] = {}
        for tag in sorted(tags, key=lambda t: t["Key"]):
            by_key.setdefault(tag["Key"].lower(), tag["Value"])
        values = {
            f.name: next((by_key[k.lower()] for k in getattr(self, f.name) if by_key.get(k.lower())), None)
            for f in fields(self)
        }
        return AccountTags(account_id=account_id, name=name or None, **values)


def _tag_keys(value: object, where: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where} must be a tag key or a non-empty list of tag keys")
    keys = tuple(string(item, f"{where}[{i}]") for i, item in enumerate(items))
    for key in keys:
        if not 1 <= len(key) <= _MAX_TAG_KEY or key != key.strip():
            raise ConfigError(f"{where}: {key!r} is not an AWS tag key (1-128 characters, no outer spaces)")
    return keys


def tag_keys_from_file(path: Path | None) -> TagKeys:
    """``[organizations]`` of the config file (the defaults without one); ConfigError names the file."""
    doc = load_document(path)
    try:
        return TagKeys.from_mapping(doc)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


@dataclass(frozen=True)
class _Entry:
    tags: AccountTags | None  # None: the organization has no such account
    expires: float


class _Unavailable(Exception):
    """No tags from the API for one account: why, and the cache entry that answer leaves (if any)."""

    def __init__(self, reason: str, entry: _Entry | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.entry = entry


class OrganizationsDirectory:
    """Account names and tags from AWS Organizations, cached for ``ttl`` seconds; it never raises."""

    def __init__(
        self,
        client: OrganizationsClient,
        keys: TagKeys | None = None,
        *,
        ttl: float = DEFAULT_TTL_SECONDS,
        not_found_seconds: float = NOT_FOUND_SECONDS,
        pause_seconds: float = PAUSE_SECONDS,
        clock: Clock = time.monotonic,
    ) -> None:
        self.client = client
        self.keys = keys or TagKeys()
        self.ttl = ttl
        self.not_found_seconds = min(not_found_seconds, ttl)
        self.pause_seconds = pause_seconds
        self.clock = clock
        self._cache: dict[str, _Entry] = {}
        self._paused: tuple[float, str] = (-float("inf"), "")  # no call before this time, and why

    def tags(self, account_ids: Collection[str]) -> Sequence[AccountTags]:
        """The tags of those of ``account_ids`` the organization knows, from the cache or the API.

        When the API cannot answer, an account keeps the tags of its last answer even past the TTL;
        one ``account_tags_unavailable`` per reason tells how many accounts went without an answer.
        """
        now = self.clock()
        found: list[AccountTags] = []
        failed: Counter[str] = Counter()
        for account_id in sorted(a for a in set(account_ids) if _ACCOUNT_ID.fullmatch(a)):
            entry = self._cache.get(account_id)
            if entry is None or entry.expires <= now:
                try:
                    entry = self._refresh(account_id, now)
                except _Unavailable as exc:
                    failed[exc.reason] += 1
                    entry = exc.entry or entry  # "no such account" replaces an answer; a failure keeps it
            if entry is not None and entry.tags is not None:
                found.append(entry.tags)
        for reason, count in sorted(failed.items()):
            telemetry.account_tags_unavailable(reason, count)
        return found

    def _refresh(self, account_id: str, now: float) -> _Entry:
        """A fresh cache entry for ``account_id``; ``_Unavailable`` when the API gave no tags."""
        until, reason = self._paused
        if now < until:
            raise _Unavailable(reason)
        try:
            tags = self._lookup(account_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _NOT_FOUND:
                self._cache[account_id] = _Entry(None, now + self.not_found_seconds)
                raise _Unavailable("not_in_organization", self._cache[account_id]) from None
            raise self._pause(now, _reason(code)) from None
        except BotoCoreError:  # no credentials, no connection, a timeout: not the account's fault
            raise self._pause(now, "unavailable") from None
        self._cache[account_id] = _Entry(tags, now + self.ttl)
        return self._cache[account_id]

    def _pause(self, now: float, reason: str) -> _Unavailable:
        self._paused = (now + self.pause_seconds, reason)
        return _Unavailable(reason)

    def _lookup(self, account_id: str) -> AccountTags:
        account = self.client.describe_account(AccountId=account_id)["Account"]
        pages = self.client.get_paginator("list_tags_for_resource").paginate(ResourceId=account_id)
        return self.keys.read(account_id, account.get("Name"), (t for p in pages for t in p["Tags"]))


def _reason(code: str) -> str:
    """The metric's and log's word for an error code: throttled, denied or unavailable."""
    if code in _THROTTLED:
        return "throttled"
    return "denied" if code in _DENIED else "unavailable"
