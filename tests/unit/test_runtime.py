"""The Lambda runtime: built once per cold start from the environment, reset for tests."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pytest

from enrich.config import ConfigError
from ingest.environment import ENV_DEADLINE_MARGIN, ENV_LAKE, ENV_METRICS
from ingest.handlers import runtime
from tests.unit.test_outcomes import record


@dataclass
class Source:
    name: str
    data: bytes

    def open(self) -> BinaryIO:
        return io.BytesIO(self.data)


class Context:
    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


@pytest.fixture(autouse=True)
def fresh() -> None:
    runtime.reset()


def test_the_pipeline_is_built_once_and_runs_until_the_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_LAKE, str(tmp_path / "lake"))
    monkeypatch.setenv(ENV_METRICS, "off")
    monkeypatch.setenv(ENV_DEADLINE_MARGIN, "5")
    assert runtime.runtime() is runtime.runtime()
    done = runtime.run([Source("a", record(1))], Context(60_000))
    assert done.summary.delivered == 1
    late = runtime.run([Source("b", record(2))], Context(4_000))  # less than the margin is left
    assert [(e.source, e.status) for e in late.sources] == [("b", "unfinished")]


def test_a_configuration_mistake_is_one_sentence_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_LAKE, raising=False)
    monkeypatch.delenv("WAFLENS_OPENSEARCH_URL", raising=False)
    with pytest.raises(ConfigError, match="name a target: WAFLENS_LAKE DIR"):
        runtime.runtime()
