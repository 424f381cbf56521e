"""The buckets: WAF's logs, the Parquet lake, the dead-letter store, Firehose's copies, Athena's results.

Every bucket blocks public access, refuses requests without TLS (and below TLS 1.2), is encrypted with
S3-managed keys and outlives the stack (``RETAIN``; objects are never deleted for it). S3-managed keys,
not KMS: S3 notifications reach the queue and Athena reads the lake with no key policy to keep in step,
and a lake written in many small objects pays no KMS request per object. Lifecycle rules expire what is
a copy (raw logs, Firehose's source backup, dead letters, query results), move the lake to cheaper
storage as it ages, and abort multipart uploads left incomplete after 7 days everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from constructs import Construct

from infra.settings import InfraSettings

WAF_LOG_PREFIX: Final = "AWSLogs/"  # where WAF's S3 delivery writes (AWSLogs/<account>/WAFLogs/...)
LAKE_PREFIX: Final = "lake"
ABORT_UPLOADS: Final = Duration.days(7)


@dataclass(frozen=True)
class Buckets:
    """The stack's buckets; ``waf_logs_arn`` is built from the name, so policies need no reference to it."""

    waf_logs: s3.Bucket
    waf_logs_arn: str
    lake: s3.Bucket
    dead_letter: s3.Bucket
    firehose: s3.Bucket
    athena_results: s3.Bucket

    @property
    def lake_uri(self) -> str:
        """The lake's root, as ``WAFLENS_LAKE`` and the Glue table name it."""
        return f"s3://{self.lake.bucket_name}/{LAKE_PREFIX}"


def create_buckets(scope: Construct, settings: InfraSettings) -> Buckets:
    """The five buckets, with their lifecycle rules and WAF's log delivery permission."""
    # WAF writes logs only to buckets named aws-waf-logs-*; the name is fixed so that the queue's policy
    # (which S3 checks when the notification is configured) can name the bucket before it exists.
    waf_name = f"aws-waf-logs-{settings.stack_name}-{Aws.ACCOUNT_ID}-{Aws.REGION}"
    waf_logs = _bucket(scope, "WafLogsBucket", [_expire(settings.waf_log_days)], name=waf_name)
    _allow_waf_delivery(waf_logs, settings)
    lake_rules = [s3.LifecycleRule(abort_incomplete_multipart_upload_after=ABORT_UPLOADS)]
    transitions = _lake_transitions(settings)
    if transitions:
        lake_rules.append(s3.LifecycleRule(id="age", transitions=transitions))
    return Buckets(
        waf_logs=waf_logs,
        waf_logs_arn=f"arn:{Aws.PARTITION}:s3:::{waf_name}",
        lake=_bucket(scope, "LakeBucket", lake_rules),
        dead_letter=_bucket(scope, "DeadLetterBucket", [_expire(settings.dead_letter_days)]),
        firehose=_bucket(scope, "FirehoseBucket", [_expire(settings.firehose_backup_days)]),
        athena_results=_bucket(scope, "AthenaResultsBucket", [_expire(settings.athena_results_days)]),
    )


def _bucket(
    scope: Construct, construct_id: str, rules: list[s3.LifecycleRule], *, name: str | None = None
) -> s3.Bucket:
    return s3.Bucket(
        scope,
        construct_id,
        bucket_name=name,
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        enforce_ssl=True,
        minimum_tls_version=1.2,
        lifecycle_rules=rules,
        removal_policy=RemovalPolicy.RETAIN,
        auto_delete_objects=False,
    )


def _expire(days: int) -> s3.LifecycleRule:
    return s3.LifecycleRule(
        id="expire", expiration=Duration.days(days), abort_incomplete_multipart_upload_after=ABORT_UPLOADS
    )


def _lake_transitions(settings: InfraSettings) -> list[s3.Transition]:
    """Standard-IA, then Glacier Instant Retrieval (still read by Athena, DuckDB and Polars directly)."""
    steps = []
    if settings.lake_ia_days:
        steps.append(
            s3.Transition(
                storage_class=s3.StorageClass.INFREQUENT_ACCESS,
                transition_after=Duration.days(settings.lake_ia_days),
            )
        )
    if settings.lake_glacier_days:
        steps.append(
            s3.Transition(
                storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                transition_after=Duration.days(settings.lake_glacier_days),
            )
        )
    return steps


def _allow_waf_delivery(bucket: s3.Bucket, settings: InfraSettings) -> None:
    """WAF's S3 logging writes as ``delivery.logs.amazonaws.com``, for the listed accounts only.

    Declared here rather than added by WAF when logging is turned on, so a later deploy cannot drop it.
    https://docs.aws.amazon.com/waf/latest/developerguide/logging-s3.html
    """
    accounts = list(settings.accounts) or [Aws.ACCOUNT_ID]
    source = {
        "StringEquals": {"aws:SourceAccount": accounts},
        "ArnLike": {"aws:SourceArn": [f"arn:{Aws.PARTITION}:logs:*:{a}:*" for a in accounts]},
    }
    delivery = iam.ServicePrincipal("delivery.logs.amazonaws.com")
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="WafLogDeliveryWrite",
            principals=[delivery],
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{WAF_LOG_PREFIX}{a}/*") for a in accounts],
            conditions={
                **source,
                "StringEquals": {**source["StringEquals"], "s3:x-amz-acl": "bucket-owner-full-control"},
            },
        )
    )
    bucket.add_to_resource_policy(
        iam.PolicyStatement(
            sid="WafLogDeliveryAclCheck",
            principals=[delivery],
            actions=["s3:GetBucketAcl"],
            resources=[bucket.bucket_arn],
            conditions=source,
        )
    )
