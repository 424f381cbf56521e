"""Account tags from a directory (AWS Organizations) under the config file's own entries, per batch."""

from __future__ import annotations

import io
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

import orjson
import polars as pl

from enrich import schema as S
from enrich.config import AccountTags, EnrichConfig, overlay_accounts
from ingest.deadline import Deadline
from ingest.run import Pipeline
from ingest.sinks.base import SinkResult
from tests.unit.test_outcomes import FakeDeadLetter

ACL = "arn:aws:wafv2:us-east-1:{}:regional/webacl/api/1"


def record(account: str) -> bytes:
    return orjson.dumps(
        {
            "timestamp": 1767571200000,
            "webaclId": ACL.format(account),
            "action": "BLOCK",
            "httpRequest": {"uri": "/"},
        }
    )


@dataclass
class Source:
    name: str
    data: bytes

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)


@dataclass
class Capture:
    name: str = "capture"
    projection: pl.Schema = field(default_factory=lambda: S.ENRICH_INPUT)
    frames: list[pl.DataFrame] = field(default_factory=list)

    def write(self, batch: pl.DataFrame, deadline: Deadline) -> SinkResult:
        self.frames.append(batch)
        return SinkResult()


@dataclass
class Directory:
    known: dict[str, AccountTags]
    asked: list[list[str]] = field(default_factory=list)

    def tags(self, account_ids: Collection[str]) -> Sequence[AccountTags]:
        self.asked.append(sorted(account_ids))
        return [self.known[a] for a in account_ids if a in self.known]


def test_the_file_overrides_the_directory_tag_by_tag_and_the_directory_fills_the_rest() -> None:
    directory = Directory(
        {
            "111122223333": AccountTags(
                "111122223333", name="shop-prod", team="payments", environment="prod"
            ),
            "444455556666": AccountTags("444455556666", name="search", team="search"),
        }
    )
    config = EnrichConfig(accounts=(AccountTags("111122223333", team="checkout"),))
    sink = Capture()
    pipeline = Pipeline(config=config, sinks=[sink], dead_letter=FakeDeadLetter(), accounts=directory)
    data = b"\n".join([record("111122223333"), record("444455556666"), record("777788889999")])
    result = pipeline.run([Source("a", data)])
    assert result.summary.delivered == 3
    accounts = sink.frames[0].select(pl.col(S.ENRICHMENT).struct.field("account")).unnest("account")
    assert accounts.select("id", "name", "team", "environment").rows() == [
        ("111122223333", "shop-prod", "checkout", "prod"),
        ("444455556666", "search", "search", None),
        ("777788889999", None, None, None),
    ]
    assert directory.asked == [["111122223333", "444455556666", "777788889999"]]  # once per batch


def test_overlay_keeps_accounts_only_one_side_knows() -> None:
    merged = overlay_accounts([AccountTags("1" * 12, team="a")], [AccountTags("2" * 12, team="b")])
    assert [(a.account_id, a.team) for a in merged] == [("1" * 12, "a"), ("2" * 12, "b")]
