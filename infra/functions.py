"""The ingest functions: one image, one handler each, each with a role that reaches only its own things.

A function's role is made here rather than by CDK, whose default adds ``AWSLambdaBasicExecutionRole``
(CloudWatch Logs actions on every log group): each role may write its own log group, X-Ray traces, the
lake, its own prefix of the dead-letter bucket and the waflens indices, and nothing else until the
source wiring adds what that source needs. Environment variables are named by ``ingest.environment``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.image import CONFIG_PATH, handler_code
from infra.settings import InfraSettings
from infra.storage import LAKE_PREFIX, Buckets
from ingest.environment import (
    ENV_ACCOUNT_TAGS,
    ENV_AWS_SERVICE,
    ENV_CONFIG,
    ENV_DEAD_LETTER,
    ENV_FIREHOSE_MODE,
    ENV_LAKE,
    ENV_METRICS,
    ENV_OPENSEARCH_AUTH,
    ENV_OPENSEARCH_URL,
)

Kind = Literal["firehose", "s3", "cloudwatch"]
HANDLERS: Final[dict[Kind, str]] = {
    "firehose": "ingest.handlers.firehose.handler",
    "s3": "ingest.handlers.s3.handler",
    "cloudwatch": "ingest.handlers.cloudwatch.handler",
}
# Firehose waits at most 5 minutes for a transform; S3 objects are read in bounded batches (README:
# 205 MB of WAF text in 19 s), so 5 minutes leaves room for the largest objects WAF writes.
TIMEOUTS: Final[dict[Kind, Duration]] = {
    "firehose": Duration.seconds(180),
    "s3": Duration.seconds(300),
    "cloudwatch": Duration.seconds(120),
}
MEMORY_MB: Final[dict[Kind, int]] = {"firehose": 1024, "s3": 2048, "cloudwatch": 1024}
# The objects a lake or dead-letter writer touches: pyarrow reads a file's metadata before writing it
# (GetObject answers HEAD), writes it (PutObject, multipart included), aborts a failed multipart upload,
# and the cold-start probe puts and deletes an object; ListBucket makes a missing key a 404, not a 403.
WRITER_ACTIONS: Final = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")


_DAYS: Final = logs.RetentionDays
_RETENTION: Final = {
    1: _DAYS.ONE_DAY, 3: _DAYS.THREE_DAYS, 5: _DAYS.FIVE_DAYS, 7: _DAYS.ONE_WEEK, 14: _DAYS.TWO_WEEKS,
    30: _DAYS.ONE_MONTH, 60: _DAYS.TWO_MONTHS, 90: _DAYS.THREE_MONTHS, 120: _DAYS.FOUR_MONTHS,
    150: _DAYS.FIVE_MONTHS, 180: _DAYS.SIX_MONTHS, 365: _DAYS.ONE_YEAR, 400: _DAYS.THIRTEEN_MONTHS,
    545: _DAYS.EIGHTEEN_MONTHS, 731: _DAYS.TWO_YEARS, 1096: _DAYS.THREE_YEARS, 1827: _DAYS.FIVE_YEARS,
    3653: _DAYS.TEN_YEARS,
}  # fmt: skip


def log_group(scope: Construct, construct_id: str, name: str, settings: InfraSettings) -> logs.LogGroup:
    """A log group kept ``log_retention_days`` and left in place when the stack is removed."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        retention=_RETENTION[settings.log_retention_days],
        removal_policy=RemovalPolicy.RETAIN,
    )


@dataclass(frozen=True)
class IngestRole:
    """A function's role and its fixed name (``[access.roles.writer]`` maps it by ARN)."""

    kind: Kind
    role: iam.Role
    name: str


def ingest_role(scope: Construct, settings: InfraSettings, kind: Kind) -> IngestRole:
    """The role of the ``kind`` function, assumable by Lambda only."""
    name = f"{settings.stack_name}-ingest-{kind}"
    role = iam.Role(
        scope,
        f"{kind.capitalize()}IngestRole",
        role_name=name,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"waflens {kind} ingester: writes the lake, its dead letters and the waflens indices",
    )
    return IngestRole(kind, role, name)


def ingest_function(
    scope: Construct,
    settings: InfraSettings,
    ingest: IngestRole,
    *,
    image: Path,
    buckets: Buckets,
    opensearch_url: str | None,
) -> lambda_.DockerImageFunction:
    """The ``ingest.kind`` function, its log group, and its rights on the lake and dead letters."""
    kind = ingest.kind
    logs_ = log_group(
        scope, f"{kind.capitalize()}FunctionLogs", f"/waflens/{settings.stack_name}/{kind}", settings
    )
    ingest.role.add_to_policy(
        iam.PolicyStatement(
            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[logs_.log_group_arn]
        )
    )
    dead_letter = f"s3://{buckets.dead_letter.bucket_name}/{kind}"
    grant_writer(ingest.role, buckets.lake.bucket_arn, LAKE_PREFIX)
    grant_writer(ingest.role, buckets.dead_letter.bucket_arn, kind)
    if settings.account_tags == "organizations":
        ingest.role.add_to_policy(
            iam.PolicyStatement(
                actions=["organizations:DescribeAccount", "organizations:ListTagsForResource"],
                resources=[f"arn:{Aws.PARTITION}:organizations::*:account/o-*/*"],
            )
        )
    return lambda_.DockerImageFunction(
        scope,
        f"{kind.capitalize()}Function",
        code=handler_code(image, HANDLERS[kind]),
        role=ingest.role,
        architecture=lambda_.Architecture.X86_64,
        memory_size=MEMORY_MB[kind],
        timeout=TIMEOUTS[kind],
        tracing=lambda_.Tracing.ACTIVE,
        log_group=logs_,
        environment=environment(
            kind,
            lake=buckets.lake_uri,
            dead_letter=dead_letter,
            opensearch_url=opensearch_url,
            account_tags=settings.account_tags,
        ),
        description=f"waflens: {HANDLERS[kind]}",
    )


def environment(
    kind: Kind, *, lake: str, dead_letter: str, opensearch_url: str | None, account_tags: str
) -> dict[str, str]:
    """The variables ``ingest.environment.settings_from_environ`` reads, for the ``kind`` function."""
    variables = {
        ENV_CONFIG: CONFIG_PATH,
        ENV_LAKE: lake,
        ENV_DEAD_LETTER: dead_letter,
        ENV_METRICS: "emf",
        ENV_ACCOUNT_TAGS: account_tags,
    }
    if opensearch_url is not None:
        # explicit, so a custom domain name (which SigV4 cannot recognise by its host) is signed too
        variables |= {ENV_OPENSEARCH_URL: opensearch_url, ENV_OPENSEARCH_AUTH: "sigv4", ENV_AWS_SERVICE: "es"}
    if kind == "firehose":
        # waflens indexes into its own targets (event-day indices, its own _id) and Firehose keeps the
        # redacted records in S3; "transform" is for Firehose's own OpenSearch destination, not used here
        variables[ENV_FIREHOSE_MODE] = "index"
    return variables


def grant_writer(role: iam.Role, bucket_arn: str, prefix: str) -> None:
    """Let ``role`` write files below ``prefix`` of a bucket the way pyarrow does, and list the bucket."""
    role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket_arn]))
    role.add_to_policy(
        iam.PolicyStatement(actions=list(WRITER_ACTIONS), resources=[f"{bucket_arn}/{prefix}*"])
    )


def grant_reader(role: iam.Role, bucket_arns: list[str]) -> None:
    """Let ``role`` read any object (and version) of these buckets, as the S3 handler does."""
    role.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=bucket_arns))
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject", "s3:GetObjectVersion"], resources=[f"{arn}/*" for arn in bucket_arns]
        )
    )
