"""What a deployment is configured with: CDK context values, checked once, each mistake one sentence.

Context comes from ``python -m infra --context key=value`` (or ``cdk.json``/``cdk -c``): text, where a
list is comma-separated, or the JSON types ``cdk.json`` allows. Every key, its default and its meaning
are in the README's "Deploy (AWS CDK)" section; ``KEYS`` lists them, so a misspelt key is an error, not
a silently ignored value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

ROOT: Final = Path(__file__).resolve().parents[1]  # the repository: the image is built from its packages
DEFAULT_CONFIG: Final = "examples/waflens.toml"
# CloudWatch Logs accepts only these retention periods (days).
RETENTION_DAYS: Final = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 3653)
_ACCOUNT: Final = re.compile(r"\d{12}")
_STACK: Final = re.compile(r"[a-z][a-z0-9-]{0,19}")  # it prefixes bucket, role and domain names
_DOMAIN: Final = re.compile(r"[a-z][a-z0-9-]{2,27}")
_VERSION: Final = re.compile(r"\d+\.\d+")
_DATE: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_CIDR: Final = re.compile(r"[0-9a-fA-F:.]+/\d{1,3}")
_GLUE_NAME: Final = re.compile(r"[a-z0-9_]{1,255}")
_WEB_ACL: Final = re.compile(r"(?P<account>\d{12})/(?P<name>[\w-]{1,128})")

OpenSearchMode = Literal["create", "existing", "none"]


class InfraConfigError(ValueError):
    """A context value cannot be used; the message names the key."""


@dataclass(frozen=True)
class Saml:
    """SAML sign-in to OpenSearch Dashboards."""

    entity_id: str
    metadata: str  # the IdP's metadata XML
    roles_key: str  # the assertion attribute that carries the user's groups (backend roles)
    master_group: str | None  # an IdP group with full rights in Dashboards (optional)


@dataclass(frozen=True)
class Domain:
    """The OpenSearch domain the stack creates, or the one it is given."""

    mode: OpenSearchMode
    name: str
    version: str
    instance_type: str
    instance_count: int
    volume_gb: int
    admin_principal: str | None  # who may assume the admin (master user) role; None: this account
    saml: Saml | None
    dashboards_cidrs: tuple[str, ...]
    endpoint: str | None  # existing: https://host
    arn: str | None  # existing: arn:aws:es:region:account:domain/name


@dataclass(frozen=True)
class WebAcl:
    """A web ACL watched by its own anomaly-detection alarm."""

    account: str
    name: str


@dataclass(frozen=True)
class InfraSettings:
    """Everything the stack is built from."""

    stack_name: str
    config: Path  # shipped in the image as WAFLENS_CONFIG; its prefix, teams and writers shape the stack
    config_given: str  # as the context names it (relative to the repository)
    accounts: tuple[str, ...]  # accounts whose WAF logs arrive; empty: the deploying account
    domain: Domain
    firehose_name: str
    cloudwatch_log_group: str | None
    account_tags: Literal["off", "organizations"]
    backfill_buckets: tuple[str, ...]
    glue_database: str
    lake_since: str
    athena_scan_limit_gb: int
    log_retention_days: int
    waf_log_days: int
    lake_ia_days: int
    lake_glacier_days: int
    dead_letter_days: int
    firehose_backup_days: int
    athena_results_days: int
    alarm_email: str | None
    web_acls: tuple[WebAcl, ...]
    blocked_threshold: int
    queue_age_seconds: int

    @classmethod
    def from_context(cls, context: Mapping[str, object], *, root: Path = ROOT) -> InfraSettings:
        """The settings ``context`` describes; ``InfraConfigError`` names the first bad key."""
        unknown = sorted(k for k in context if k not in KEYS and not k.startswith(("@aws-cdk", "aws:")))
        if unknown:
            raise InfraConfigError(f"unknown context key {unknown[0]!r} (see the README's Deploy section)")
        read = _Reader(context)
        stack_name = read.match("stack_name", "waflens", _STACK, "1-20 lowercase letters, digits or -")
        config_given = read.text("config", DEFAULT_CONFIG)
        config = root / config_given
        if not config.is_file():
            raise InfraConfigError(f"context config: {config} is not a file")
        retention = read.integer("log_retention_days", 30, 1)
        if retention not in RETENTION_DAYS:
            raise InfraConfigError(f"context log_retention_days must be one of {RETENTION_DAYS}")
        firehose = read.text("firehose_name", f"aws-waf-logs-{stack_name}")
        if not firehose.startswith("aws-waf-logs-") or len(firehose) > 64:
            raise InfraConfigError(
                "context firehose_name must start with aws-waf-logs- (WAF's rule), 64 chars"
            )
        tags = read.choice("account_tags", "off", ("off", "organizations"))
        return cls(
            stack_name=stack_name,
            config=config,
            config_given=config_given,
            accounts=tuple(read.matches("accounts", _ACCOUNT, "a 12-digit AWS account id")),
            domain=_domain(read, stack_name, root),
            firehose_name=firehose,
            cloudwatch_log_group=read.text("cloudwatch_log_group", "") or None,
            account_tags="organizations" if tags == "organizations" else "off",
            backfill_buckets=read.items("backfill_buckets"),
            glue_database=read.match(
                "glue_database",
                f"{stack_name.replace('-', '_')}_lake",
                _GLUE_NAME,
                "a Glue name (a-z, 0-9, _)",
            ),
            lake_since=read.match("lake_since", "2020-01-01", _DATE, "a date like 2020-01-01"),
            athena_scan_limit_gb=read.integer("athena_scan_limit_gb", 10, 1),
            log_retention_days=retention,
            waf_log_days=read.integer("waf_log_days", 90, 1),
            lake_ia_days=read.integer("lake_ia_days", 30, 0),
            lake_glacier_days=read.integer("lake_glacier_days", 90, 0),
            dead_letter_days=read.integer("dead_letter_days", 90, 1),
            firehose_backup_days=read.integer("firehose_backup_days", 14, 1),
            athena_results_days=read.integer("athena_results_days", 7, 1),
            alarm_email=read.text("alarm_email", "") or None,
            web_acls=tuple(_web_acl(item) for item in read.items("web_acls")),
            blocked_threshold=read.integer("blocked_threshold", 1000, 1),
            queue_age_seconds=read.integer("queue_age_seconds", 3600, 60),
        )


def _domain(read: _Reader, stack_name: str, root: Path) -> Domain:
    mode = read.choice("opensearch", "create", ("create", "existing", "none"))
    endpoint = read.text("opensearch_endpoint", "") or None
    arn = read.text("opensearch_domain_arn", "") or None
    if mode == "existing" and not (endpoint and arn):
        raise InfraConfigError("opensearch=existing needs opensearch_endpoint and opensearch_domain_arn")
    if endpoint and not endpoint.startswith("https://"):
        raise InfraConfigError("context opensearch_endpoint must be an https:// URL")
    if arn and not re.fullmatch(r"arn:aws[\w-]*:es:[\w-]+:\d{12}:domain/[a-z][a-z0-9-]{2,27}", arn):
        raise InfraConfigError("context opensearch_domain_arn must be arn:aws:es:REGION:ACCOUNT:domain/NAME")
    return Domain(
        mode="create" if mode == "create" else "existing" if mode == "existing" else "none",
        name=read.match("domain_name", stack_name, _DOMAIN, "3-28 lowercase letters, digits or -"),
        version=read.match("opensearch_version", "2.19", _VERSION, "a version like 2.19"),
        instance_type=read.text("instance_type", "t3.medium.search"),
        instance_count=read.integer("instance_count", 2, 1),
        volume_gb=read.integer("volume_gb", 20, 10),
        admin_principal=read.text("admin_principal", "") or None,
        saml=_saml(read, root),
        dashboards_cidrs=tuple(read.matches("dashboards_cidrs", _CIDR, "an IP range like 203.0.113.0/24")),
        endpoint=endpoint.rstrip("/") if endpoint else None,
        arn=arn,
    )


def _saml(read: _Reader, root: Path) -> Saml | None:
    entity_id = read.text("saml_entity_id", "")
    metadata_file = read.text("saml_metadata", "")
    if not (entity_id or metadata_file):
        return None
    if not (entity_id and metadata_file):
        raise InfraConfigError("SAML needs both saml_entity_id and saml_metadata (the IdP's metadata file)")
    path = root / metadata_file
    if not path.is_file():
        raise InfraConfigError(f"context saml_metadata: {path} is not a file")
    roles_key = read.text("saml_roles_key", "")
    if not roles_key:
        raise InfraConfigError("SAML needs saml_roles_key, the assertion attribute holding the user's groups")
    master = read.text("saml_master_group", "") or None
    return Saml(entity_id, path.read_text(encoding="utf-8"), roles_key, master)


def _web_acl(item: str) -> WebAcl:
    found = _WEB_ACL.fullmatch(item)
    if not found:
        raise InfraConfigError(f"context web_acls: {item!r} is not ACCOUNT/NAME (111111111111/prod-api)")
    return WebAcl(found["account"], found["name"])


@dataclass(frozen=True)
class _Reader:
    """Typed reads of context values, each failure a sentence naming the key."""

    context: Mapping[str, object]

    def text(self, key: str, default: str) -> str:
        value = self.context.get(key, default)
        if not isinstance(value, str):
            raise InfraConfigError(f"context {key} must be text")
        return value.strip()

    def match(self, key: str, default: str, shape: re.Pattern[str], what: str) -> str:
        value = self.text(key, default)
        if not shape.fullmatch(value):
            raise InfraConfigError(f"context {key} {value!r} is not {what}")
        return value

    def choice(self, key: str, default: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key, default)
        if value not in allowed:
            raise InfraConfigError(f"context {key} must be one of {', '.join(allowed)}, not {value!r}")
        return value

    def integer(self, key: str, default: int, minimum: int) -> int:
        value = self.context.get(key, default)
        try:
            number = int(value) if isinstance(value, int | str) and not isinstance(value, bool) else None
        except ValueError:
            number = None
        if number is None or number < minimum:
            raise InfraConfigError(f"context {key} must be a whole number of at least {minimum}")
        return number

    def items(self, key: str) -> tuple[str, ...]:
        value = self.context.get(key, "")
        if isinstance(value, str):
            return tuple(item.strip() for item in value.split(",") if item.strip())
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return tuple(item.strip() for item in value if item.strip())
        raise InfraConfigError(f"context {key} must be comma-separated text or a list of strings")

    def matches(self, key: str, shape: re.Pattern[str], what: str) -> tuple[str, ...]:
        items = self.items(key)
        for item in items:
            if not shape.fullmatch(item):
                raise InfraConfigError(f"context {key}: {item!r} is not {what}")
        return items


KEYS: Final = frozenset(
    {
        "stack_name", "config", "accounts", "opensearch", "opensearch_endpoint", "opensearch_domain_arn",
        "domain_name", "opensearch_version", "instance_type", "instance_count", "volume_gb",
        "admin_principal", "saml_entity_id", "saml_metadata", "saml_roles_key", "saml_master_group",
        "dashboards_cidrs", "firehose_name", "cloudwatch_log_group", "account_tags", "backfill_buckets",
        "glue_database", "lake_since", "athena_scan_limit_gb", "log_retention_days", "waf_log_days",
        "lake_ia_days", "lake_glacier_days", "dead_letter_days", "firehose_backup_days",
        "athena_results_days", "alarm_email", "web_acls", "blocked_threshold", "queue_age_seconds",
    }
)  # fmt: skip
