"""What a Lambda function builds once per cold start and reuses while warm: settings and the pipeline.

Handlers call ``run(sources, context)``: the pipeline runs until the function's remaining time minus
``WAFLENS_DEADLINE_MARGIN_SECONDS``, and what is left then is reported retryable, never lost.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from ingest import telemetry
from ingest.compose import Settings, build_pipeline
from ingest.environment import LambdaContext, lambda_deadline, settings_from_environ
from ingest.outcomes import RunResult
from ingest.run import Pipeline, Source


@dataclass(frozen=True)
class Runtime:
    """The function's settings and its pipeline."""

    settings: Settings
    pipeline: Pipeline


@cache
def runtime() -> Runtime:
    """Built from the environment on first use; a configuration mistake fails every invocation with
    one sentence naming the variable, until it is fixed."""
    settings = settings_from_environ(os.environ)
    telemetry.configure_metrics(settings.metrics)
    return Runtime(settings, build_pipeline(settings))


def run(sources: Iterable[Source], context: LambdaContext) -> RunResult:
    """Run ``sources`` through the pipeline before the function's deadline; every record's outcome kept."""
    current = runtime()
    deadline = lambda_deadline(context, current.settings)
    return current.pipeline.run(sources, deadline=deadline, keep_records=True)


def reset() -> None:
    """Forget the cached runtime (tests change the environment between invocations)."""
    runtime.cache_clear()
