"""The composition root: frozen ``Settings`` in, a ready ``Pipeline`` out.

The CLI and every Lambda handler build their pipeline here, from settings loaded once (``settings_from_args``
in the CLI, ``environment.settings_from_environ`` in Lambda). Clients can be handed in (tests, or a
handler reusing warm connections); whatever is missing is made from the settings.
"""

from __future__ import annotations

import math
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal, get_args

from opensearchpy import OpenSearch

from enrich.config import ConfigError
from enrich.redact import redaction_from
from ingest.accounts import (
    DEFAULT_TTL_SECONDS,
    OrganizationsClient,
    OrganizationsDirectory,
    organizations_client,
    tag_keys_from_file,
)
from ingest.config_file import load_config
from ingest.geoip import open_geoip
from ingest.metrics import MetricsMode  # off; EMF on stdout (Lambda); EMF lines appended to a file
from ingest.run import Limits, Pipeline
from ingest.sinks.base import Sink
from ingest.sinks.capture import CaptureSink
from ingest.sinks.deadletter import FileDeadLetter
from ingest.sinks.lake import ParquetLake
from ingest.sinks.opensearch.client import Endpoint, make_client
from ingest.sinks.opensearch.service import BulkOptions, OpenSearchSink
from ingest.sinks.storage import resolve

# A Firehose function returns the documents for Firehose to deliver, or indexes them itself.
FirehoseMode = Literal["transform", "index"]
AccountTagSource = Literal["off", "organizations"]  # where account tags come from besides the config file
DEFAULT_DEAD_LETTER = "waflens-dead-letter"
# How a mistake names a setting: the CLI says "--lake", a Lambda's loader "WAFLENS_LAKE".
FIELD_NAMES: Mapping[str, str] = MappingProxyType(
    {
        "lake": "lake",
        "dead_letter": "dead-letter folder",
        "opensearch": "OpenSearch URL",
        "batch_records": "batch size",
        "bulk_bytes": "bulk request size",
        "bulk_concurrency": "bulk concurrency",
        "deadline": "deadline",
        "account_tags": "account tags source",
        "account_tags_ttl": "account tags TTL",
    }
)


@dataclass(frozen=True)
class Settings:
    """Everything a run is configured with, validated once where it is loaded."""

    config: Path | None = None  # the config file: owners, accounts, redaction, index, retention
    lake: str | None = None  # a folder or s3://bucket/prefix
    dead_letter: str | None = None  # the same; default: LAKE/_dead_letter, else ./waflens-dead-letter
    s3_region: str | None = None  # region of s3:// targets; None: pyarrow asks S3 for the bucket's
    opensearch: Endpoint | None = None
    bulk: BulkOptions = field(default_factory=BulkOptions)
    limits: Limits = field(default_factory=Limits)
    deadline_seconds: float | None = None  # CLI: the run's length; None: no deadline
    deadline_margin_seconds: float = 10.0  # Lambda: stop this long before the function's timeout
    metrics: MetricsMode = "off"
    firehose_mode: FirehoseMode | None = None  # a Firehose function's; its documents are also kept for it
    account_tags: AccountTagSource = "off"
    account_tags_ttl_seconds: float = DEFAULT_TTL_SECONDS  # how long AWS Organizations' answers are kept
    names: Mapping[str, str] = field(default_factory=lambda: FIELD_NAMES, compare=False, repr=False)

    def __post_init__(self) -> None:
        """One sentence per mistake, naming the setting the way its user wrote it."""
        n = self.names
        if self.lake is None and self.opensearch is None and self.firehose_mode != "transform":
            raise ConfigError(f"name a target: {n['lake']} DIR, {n['opensearch']} URL, or both")
        for key, value in (
            ("batch_records", self.limits.batch_records),
            ("bulk_bytes", self.bulk.max_bytes),
            ("bulk_concurrency", self.bulk.concurrency),
        ):
            if value < 1:
                raise ConfigError(f"{n[key]} must be at least 1")
        if self.deadline_seconds is not None and not self.deadline_seconds > 0:
            raise ConfigError(f"{n['deadline']} must be a positive number of seconds")
        if self.account_tags not in get_args(AccountTagSource):
            raise ConfigError(f"{n['account_tags']} must be off or organizations, not {self.account_tags!r}")
        if not 0 <= self.account_tags_ttl_seconds < math.inf:
            raise ConfigError(f"{n['account_tags_ttl']} must be a number of seconds, at least 0")

    @property
    def dead_letter_folder(self) -> str:
        """Where rejected records go: a folder or s3://bucket/prefix."""
        if self.dead_letter is not None:
            return self.dead_letter
        return posixpath.join(self.lake, "_dead_letter") if self.lake is not None else DEFAULT_DEAD_LETTER


@dataclass(frozen=True)
class Clients:
    """Connections a caller already holds; ``build_pipeline`` makes the rest."""

    opensearch: OpenSearch | None = None
    organizations: OrganizationsClient | None = None  # used when settings.account_tags is "organizations"


def build_pipeline(settings: Settings, *, clients: Clients | None = None) -> Pipeline:
    """The pipeline ``settings`` describe: the config file read, targets checked, sinks and store built.

    Permanent mistakes (an unwritable folder or bucket, a bad config file, an endpoint without
    credentials) raise ``ConfigError`` here, before any work, rather than turning every record retryable.
    """
    clients = clients or Clients()
    config, _ = load_config(settings.config)
    try:  # relative .mmdb paths are read from the config file's folder
        geo = open_geoip(config.geoip, relative_to=settings.config.parent if settings.config else None)
    except ConfigError as exc:
        raise ConfigError(f"{settings.config}: {exc}") from exc
    tag_keys = tag_keys_from_file(settings.config)  # [organizations] is checked even when it is off
    names, region = settings.names, settings.s3_region
    lake = resolve(settings.lake, option=names["lake"], region=region) if settings.lake is not None else None
    dead_letter = resolve(settings.dead_letter_folder, option=names["dead_letter"], region=region)
    if lake is not None:
        lake.check_writable(names["lake"])
    dead_letter.check_writable(names["dead_letter"])
    sinks: list[Sink] = []
    if lake is not None:
        sinks.append(ParquetLake(lake))
    if settings.opensearch is not None:
        client = clients.opensearch or make_client(settings.opensearch)
        sinks.append(OpenSearchSink(client, settings.bulk))
    if settings.firehose_mode is not None:  # the Firehose handler renders its response from what it kept
        sinks.append(CaptureSink())
    accounts = None
    if settings.account_tags == "organizations":
        directory = clients.organizations or organizations_client()
        accounts = OrganizationsDirectory(directory, tag_keys, ttl=settings.account_tags_ttl_seconds)
    return Pipeline(
        config=config,
        sinks=sinks,
        dead_letter=FileDeadLetter(dead_letter, redaction_from(config)),
        limits=settings.limits,
        accounts=accounts,
        geo=geo,
    )
