"""Where WAF's records come in: S3 notifications and backfill through SQS, Firehose, CloudWatch Logs.

* The WAF log bucket announces each new ``AWSLogs/**.log.gz`` object to a queue; the backfill queue
  takes what ``waflens backfill`` sends. Both feed the S3 function with ``ReportBatchItemFailures``
  (its answer lists the messages to deliver again), a visibility timeout six times the function's
  timeout (Lambda's advice) and a dead-letter queue after 5 receives.
* The Firehose stream (``aws-waf-logs-…``) runs the Firehose function as its transform, keeps the
  records it returns (redacted) and a backup of the source records in its bucket.
* Optionally, a subscription on a WAF log group invokes the CloudWatch function; what still fails after
  Lambda's retries goes to a queue with its payload.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_logs_destinations as logs_destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import TIMEOUTS, grant_reader, log_group
from infra.settings import InfraSettings
from infra.storage import WAF_LOG_PREFIX, Buckets

MAX_RECEIVES: Final = 5  # README: a redrive policy of 5 receives or more
RETAIN_MESSAGES: Final = Duration.days(14)  # the longest SQS keeps a message
VISIBILITY: Final = Duration.seconds(6 * TIMEOUTS["s3"].to_seconds())
LOG_SUFFIX: Final = ".log.gz"  # the objects WAF writes; backfill skips anything else too


@dataclass(frozen=True)
class Queues:
    """The queues the S3 function reads, and where their failures end up."""

    notifications: sqs.Queue
    notifications_dlq: sqs.Queue
    backfill: sqs.Queue
    backfill_dlq: sqs.Queue
    backfill_policy: iam.ManagedPolicy  # to attach to whoever runs waflens backfill


def s3_sources(
    scope: Construct, settings: InfraSettings, buckets: Buckets, function: lambda_.IFunction, role: iam.Role
) -> Queues:
    """The notification and backfill queues, wired to ``function``, and the bucket's notifications."""
    notifications, notifications_dlq = _queue_pair(scope, "Notifications")
    backfill, backfill_dlq = _queue_pair(scope, "Backfill")
    notifications.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("s3.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[notifications.queue_arn],
            conditions={
                "ArnEquals": {"aws:SourceArn": buckets.waf_logs_arn},
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            },
        )
    )
    bucket = buckets.waf_logs.node.default_child
    assert isinstance(bucket, s3.CfnBucket)
    # declared on the bucket itself: CDK's add_event_notification deploys a custom-resource Lambda
    # that may change any bucket's notifications (s3:PutBucketNotification on "*")
    bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        queue_configurations=[
            s3.CfnBucket.QueueConfigurationProperty(
                event="s3:ObjectCreated:*",
                queue=notifications.queue_arn,
                filter=s3.CfnBucket.NotificationFilterProperty(
                    s3_key=s3.CfnBucket.S3KeyFilterProperty(
                        rules=[
                            s3.CfnBucket.FilterRuleProperty(name="prefix", value=WAF_LOG_PREFIX),
                            s3.CfnBucket.FilterRuleProperty(name="suffix", value=LOG_SUFFIX),
                        ]
                    )
                ),
            )
        ]
    )
    # S3 checks that it may send to the queue when the notification is configured
    buckets.waf_logs.node.add_dependency(notifications.node.find_child("Policy"))
    for queue in (notifications, backfill):
        function.add_event_source(
            event_sources.SqsEventSource(queue, batch_size=10, report_batch_item_failures=True)
        )
    extra = [f"arn:{Aws.PARTITION}:s3:::{name}" for name in settings.backfill_buckets]
    grant_reader(role, [buckets.waf_logs_arn, *extra])
    policy = _backfill_policy(scope, [buckets.waf_logs_arn, *extra], backfill)
    return Queues(notifications, notifications_dlq, backfill, backfill_dlq, policy)


def _queue_pair(scope: Construct, name: str) -> tuple[sqs.Queue, sqs.Queue]:
    dlq = sqs.Queue(
        scope,
        f"{name}DeadLetters",
        retention_period=RETAIN_MESSAGES,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        removal_policy=RemovalPolicy.RETAIN,  # messages that kept failing are data
    )
    queue = sqs.Queue(
        scope,
        name,
        visibility_timeout=VISIBILITY,
        retention_period=RETAIN_MESSAGES,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=MAX_RECEIVES, queue=dlq),
    )
    return queue, dlq


def _backfill_policy(scope: Construct, bucket_arns: list[str], queue: sqs.Queue) -> iam.ManagedPolicy:
    """What ``waflens backfill`` needs, to attach to whoever runs it: list the logs, send to the queue."""
    return iam.ManagedPolicy(
        scope,
        "BackfillSender",
        description="waflens backfill: list the WAF log buckets and send their objects to the backfill queue",
        statements=[
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=bucket_arns),
            iam.PolicyStatement(actions=["sqs:SendMessage"], resources=[queue.queue_arn]),
        ],
    )


def firehose_stream(
    scope: Construct, settings: InfraSettings, buckets: Buckets, function: lambda_.IFunction
) -> firehose.CfnDeliveryStream:
    """The ``aws-waf-logs-…`` stream with the Firehose function as its transform (L1: the L2 grants
    wildcard S3 actions such as ``s3:GetObject*``)."""
    logs_ = log_group(
        scope, "FirehoseDeliveryLogs", f"/aws/kinesisfirehose/{settings.firehose_name}", settings
    )
    streams = {name: logs_.add_stream(name, log_stream_name=name) for name in ("Destination", "Backup")}
    role = iam.Role(
        scope,
        "FirehoseDeliveryRole",
        assumed_by=iam.ServicePrincipal(
            "firehose.amazonaws.com", conditions={"StringEquals": {"sts:ExternalId": Aws.ACCOUNT_ID}}
        ),
    )
    bucket = buckets.firehose
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"],
            resources=[bucket.bucket_arn],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
            resources=[bucket.arn_for_objects("*")],
        )
    )
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["lambda:InvokeFunction", "lambda:GetFunctionConfiguration"],
            resources=[function.function_arn, f"{function.function_arn}:*"],
        )
    )
    role.add_to_policy(iam.PolicyStatement(actions=["logs:PutLogEvents"], resources=[logs_.log_group_arn]))
    stream = firehose.CfnDeliveryStream(
        scope,
        "Firehose",
        delivery_stream_name=settings.firehose_name,
        delivery_stream_type="DirectPut",
        delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
            key_type="AWS_OWNED_CMK"
        ),
        extended_s3_destination_configuration=_destination(bucket, role, function, logs_, streams),
    )
    stream.node.add_dependency(role)  # its policy must exist before Firehose checks what it may do
    return stream


def _destination(
    bucket: s3.IBucket,
    role: iam.Role,
    function: lambda_.IFunction,
    log_group: logs.LogGroup,
    streams: dict[str, logs.LogStream],
) -> firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty:
    """Transformed (redacted) records under ``redacted/``, source records under ``source/``, and
    records the function answered ``ProcessingFailed`` under ``errors/processing-failed/``."""
    day = "!{timestamp:yyyy/MM/dd}/"
    cfn = firehose.CfnDeliveryStream

    def logging(stream: str) -> firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty:
        return cfn.CloudWatchLoggingOptionsProperty(
            enabled=True,
            log_group_name=log_group.log_group_name,
            log_stream_name=streams[stream].log_stream_name,
        )

    return cfn.ExtendedS3DestinationConfigurationProperty(
        bucket_arn=bucket.bucket_arn,
        role_arn=role.role_arn,
        prefix=f"redacted/{day}",
        error_output_prefix="errors/!{firehose:error-output-type}/" + day,
        buffering_hints=cfn.BufferingHintsProperty(interval_in_seconds=300, size_in_m_bs=5),
        compression_format="GZIP",
        cloud_watch_logging_options=logging("Destination"),
        processing_configuration=cfn.ProcessingConfigurationProperty(
            enabled=True,
            processors=[
                cfn.ProcessorProperty(
                    type="Lambda",
                    parameters=[
                        cfn.ProcessorParameterProperty(
                            parameter_name="LambdaArn", parameter_value=function.function_arn
                        ),
                        # 3 MB of records: the answer fits Lambda's 6 MB (README, "The 6 MB response")
                        cfn.ProcessorParameterProperty(parameter_name="BufferSizeInMBs", parameter_value="3"),
                        cfn.ProcessorParameterProperty(
                            parameter_name="BufferIntervalInSeconds", parameter_value="60"
                        ),
                    ],
                )
            ],
        ),
        s3_backup_mode="Enabled",
        s3_backup_configuration=cfn.S3DestinationConfigurationProperty(
            bucket_arn=bucket.bucket_arn,
            role_arn=role.role_arn,
            prefix=f"source/{day}",
            error_output_prefix="source-errors/!{firehose:error-output-type}/" + day,
            buffering_hints=cfn.BufferingHintsProperty(interval_in_seconds=300, size_in_m_bs=5),
            compression_format="GZIP",
            cloud_watch_logging_options=logging("Backup"),
        ),
    )


def cloudwatch_subscription(
    scope: Construct, settings: InfraSettings, function: lambda_.Function
) -> sqs.Queue:
    """The WAF log group's subscription to ``function``, and the queue that keeps failed payloads."""
    assert settings.cloudwatch_log_group is not None
    failed = sqs.Queue(
        scope,
        "CloudWatchFailures",
        retention_period=RETAIN_MESSAGES,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    function.configure_async_invoke(
        on_failure=destinations.SqsDestination(failed), retry_attempts=2, max_event_age=Duration.hours(6)
    )
    log_group = logs.LogGroup.from_log_group_name(scope, "WafLogGroup", settings.cloudwatch_log_group)
    logs.SubscriptionFilter(
        scope,
        "WafLogSubscription",
        log_group=log_group,
        destination=logs_destinations.LambdaDestination(function),
        filter_pattern=logs.FilterPattern.all_events(),
    )
    return failed
