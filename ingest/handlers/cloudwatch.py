"""CloudWatch Logs subscription: a log group's WAF records, delivered by an asynchronous invocation.

Each log event's message is one WAF record; the events of one invocation are one source, each on a line
of its own. CloudWatch Logs does not read the function's answer, so the contract is the invocation's
fate: anything retryable fails it (Lambda's asynchronous retries, then the function's on-failure
destination, keep the event; sinks are idempotent, so a retry converges), rejected records are in the
dead-letter store and do not fail it. A payload that cannot be read fails it too, with one sentence.
https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html#LambdaFunctionExample
"""

from __future__ import annotations

import binascii
import zlib
from dataclasses import dataclass
from typing import Any, Final

from aws_lambda_powertools.utilities.data_classes import CloudWatchLogsEvent

from enrich.config import ConfigError
from ingest import telemetry
from ingest.environment import ENV_FIREHOSE_MODE, LambdaContext
from ingest.handlers import runtime
from ingest.outcomes import RunResult
from ingest.sources.payloads import Payloads

SOURCE_PREFIX: Final = "cloudwatch"
DATA_MESSAGE: Final = "DATA_MESSAGE"
CONTROL_MESSAGE: Final = "CONTROL_MESSAGE"  # CloudWatch Logs checking that it can reach the function


class MalformedPayload(ValueError):
    """The event's ``awslogs.data`` cannot be read: the invocation fails and the event is kept upstream."""


class RetryableRecords(RuntimeError):
    """Some records could not be delivered yet: the invocation fails so that Lambda runs it again."""


@dataclass(frozen=True)
class Logs:
    """What a subscription payload holds: its kind, where it comes from, and each event's id and bytes."""

    message_type: str
    log_group: str
    log_stream: str
    events: list[tuple[str, bytes]]


@telemetry.instrument
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, object]:
    """Deliver one subscription payload's log events; raise when any of them must be delivered again."""
    current = runtime.runtime()
    if current.settings.firehose_mode is not None:
        raise ConfigError(f"{ENV_FIREHOSE_MODE} is for a Firehose function; unset it for CloudWatch Logs")
    logs = read(CloudWatchLogsEvent(event))
    if logs.message_type == CONTROL_MESSAGE:
        telemetry.logger().info("control message skipped", extra={"log_group": logs.log_group})
        return {"skipped": CONTROL_MESSAGE}
    if logs.message_type != DATA_MESSAGE:
        raise MalformedPayload("the CloudWatch Logs payload has an unknown messageType")
    source = Payloads.join(f"{SOURCE_PREFIX}:{logs.log_group}/{logs.log_stream}", logs.events)
    return settle(runtime.run([source], context))


def read(event: CloudWatchLogsEvent) -> Logs:
    """The payload, or one sentence saying which layer of it is broken (never its content)."""
    try:
        data = event.parse_logs_data()
        return Logs(
            data.message_type,
            data.log_group,
            data.log_stream,
            # a lone surrogate (an \ud800 escape) stays as bytes that are not UTF-8: its record is rejected
            [(e.get_id, e.message.encode("utf-8", "surrogatepass")) for e in data.log_events],
        )
    except KeyError as exc:
        raise MalformedPayload(f"the CloudWatch Logs event has no {exc.args[0]!s:.40} field") from None
    except (TypeError, AttributeError):
        raise MalformedPayload("the CloudWatch Logs event is not shaped as a subscription's") from None
    except binascii.Error:
        raise MalformedPayload("the CloudWatch Logs payload is not base64") from None
    except zlib.error:
        raise MalformedPayload("the CloudWatch Logs payload is not gzip") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise MalformedPayload("the CloudWatch Logs payload is not JSON") from None


def settle(result: RunResult) -> dict[str, object]:
    """The subscription's contract: the run's counts, or ``RetryableRecords`` saying how many and why."""
    summary = result.summary
    unsettled = [end for end in result.sources if end.redeliver or end.status == "damaged"]
    if not (summary.retryable or unsettled):
        return summary.as_dict()
    reasons = (
        [f"{summary.retryable} of {summary.records_in} log events are retryable"] if summary.retryable else []
    )
    reasons += [f"the payload is {end.status}: {end.problem}" for end in unsettled]  # waflens's words only
    raise RetryableRecords("; ".join(reasons) + "; failing the invocation so that Lambda retries it")
