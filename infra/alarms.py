"""Alarms, all sent to one SNS topic encrypted with its own KMS key.

Functions: errors, throttles, and a duration near the timeout. Queues: anything in a dead-letter queue,
and an oldest message older than ``queue_age_seconds``. Firehose: failed transform invocations and
failed deliveries to S3. Dead letters: records rejected (``RecordsRejected``, the handlers' counter) and
SQS messages the S3 function kept in the dead-letter store (counted from its log). Blocked requests: an
anomaly-detection band per web ACL in ``web_acls``, and a threshold on the sum of all the others.

``BlockedRequests`` carries the dimensions WebACL, Account and Team (``ingest.metrics``); an alarm cannot
use SEARCH, so a web ACL's series is the sum of its metrics over every team the config file can name
(at most 10 metrics in one alarm), and "all the others" is a Metrics Insights query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from aws_cdk import Aws, Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.settings import InfraConfigError, InfraSettings, WebAcl
from ingest.metrics import NAMESPACE, SERVICE

PERIOD: Final = Duration.minutes(5)
NEAR_TIMEOUT: Final = 0.8  # a duration above 80% of the timeout: the next batch may not fit
MAX_ALARM_METRICS: Final = 10  # CloudWatch: metrics one metric-math alarm may reference
BLOCKED_DIMENSIONS: Final = ("WebACL", "Account", "Team")
DEAD_LETTERED: Final = "DeadLetteredMessages"  # from the S3 function's "sqs batch settled" log lines
_MISSING_OK: Final = cloudwatch.TreatMissingData.NOT_BREACHING
# What the key's own account may do with it (no kms:*): administer it, and let services it trusts use it.
KEY_ADMIN_ACTIONS: Final = (
    "kms:DescribeKey", "kms:GetKeyPolicy", "kms:PutKeyPolicy", "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation", "kms:DisableKeyRotation", "kms:EnableKey", "kms:DisableKey",
    "kms:ListResourceTags", "kms:TagResource", "kms:UntagResource", "kms:UpdateKeyDescription",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:ListGrants", "kms:CreateGrant",
    "kms:RevokeGrant", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey",
)  # fmt: skip


class Alarms:
    """The topic, and helpers that add an alarm publishing to it."""

    def __init__(self, scope: Construct, settings: InfraSettings) -> None:
        self.scope = scope
        self.settings = settings
        self.topic = _topic(scope, settings)
        self.action = actions.SnsAction(self.topic)

    def add(self, alarm: cloudwatch.AlarmBase) -> None:
        """Send ``alarm`` to the topic."""
        alarm.add_alarm_action(self.action)

    def above(
        self,
        construct_id: str,
        metric: cloudwatch.Metric | cloudwatch.MathExpression,
        threshold: float,
        what: str,
    ) -> None:
        """An alarm when ``metric`` is above ``threshold`` in one period."""
        alarm = metric.create_alarm(
            self.scope,
            f"{construct_id}Alarm",
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=_MISSING_OK,
            alarm_description=what,
        )
        self.add(alarm)

    def function(self, name: str, function: lambda_.Function, timeout: Duration) -> None:
        """Errors, throttles and a duration near the timeout."""
        self.above(f"{name}Errors", function.metric_errors(period=PERIOD), 0, f"{name} function errors")
        self.above(
            f"{name}Throttles", function.metric_throttles(period=PERIOD), 0, f"{name} function throttled"
        )
        self.above(
            f"{name}NearTimeout",
            function.metric_duration(period=PERIOD, statistic="Maximum"),
            timeout.to_milliseconds() * NEAR_TIMEOUT,
            f"{name} function ran above {NEAR_TIMEOUT:.0%} of its timeout",
        )

    def queue(self, name: str, queue: sqs.Queue, dead_letters: sqs.Queue | None) -> None:
        """Messages waiting too long in ``queue``; anything at all in its dead-letter queue."""
        age = queue.metric_approximate_age_of_oldest_message(period=PERIOD, statistic="Maximum")
        self.above(f"{name}OldestMessage", age, self.settings.queue_age_seconds, f"{name}: messages waiting")
        if dead_letters is not None:
            depth = dead_letters.metric_approximate_number_of_messages_visible(
                period=PERIOD, statistic="Maximum"
            )
            self.above(f"{name}DeadLetters", depth, 0, f"{name}: messages in the dead-letter queue")

    def firehose(self, stream_name: str) -> None:
        """Transform invocations that failed, and deliveries to S3 that failed (both ratios below 1)."""
        for metric, what in (
            ("ExecuteProcessing.Success", "transform"),
            ("DeliveryToS3.Success", "S3 delivery"),
        ):
            ratio = cloudwatch.Metric(
                namespace="AWS/Firehose",
                metric_name=metric,
                dimensions_map={"DeliveryStreamName": stream_name},
                period=PERIOD,
                statistic="Minimum",
            )
            alarm = ratio.create_alarm(
                self.scope,
                f"Firehose{metric.split('.')[0]}Alarm",
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
                treat_missing_data=_MISSING_OK,
                alarm_description=f"Firehose {what} failed",
            )
            self.add(alarm)

    def domain(self, domain: opensearch.Domain, volume_gb: int) -> None:
        """The cluster cannot take writes: red status, writes blocked, or under a quarter of its disk free."""
        self.above("OpenSearchRed", domain.metric_cluster_status_red(period=PERIOD), 0, "cluster status red")
        self.above(
            "OpenSearchWritesBlocked",
            domain.metric_cluster_index_writes_blocked(period=PERIOD),
            0,
            "the cluster blocks index writes",
        )
        free = domain.metric_free_storage_space(period=PERIOD, statistic="Minimum")  # MiB, per node
        alarm = free.create_alarm(
            self.scope,
            "OpenSearchLowStorageAlarm",
            threshold=volume_gb * 1024 * 0.25,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
            treat_missing_data=_MISSING_OK,
            alarm_description="a data node has less than a quarter of its volume free",
        )
        self.add(alarm)

    def dead_letters(self, s3_logs: logs.ILogGroup | None) -> None:
        """Records rejected into the dead-letter store, and SQS messages kept there by the S3 function."""
        rejected = cloudwatch.Metric(
            namespace=NAMESPACE, metric_name="RecordsRejected", dimensions_map={"service": SERVICE},
            period=PERIOD, statistic="Sum",
        )  # fmt: skip
        metrics: dict[str, cloudwatch.IMetric] = {"rejected": rejected}
        if s3_logs is not None:
            metrics["messages"] = logs.MetricFilter(
                self.scope,
                "DeadLetteredMessagesFilter",
                log_group=s3_logs,
                metric_namespace=NAMESPACE,
                metric_name=DEAD_LETTERED,
                filter_pattern=logs.FilterPattern.literal(
                    '{ $.message = "sqs batch settled" && $.dead_lettered > 0 }'
                ),
                metric_value="$.dead_lettered",
                unit=cloudwatch.Unit.COUNT,
            ).metric(period=PERIOD, statistic="Sum")
        total = cloudwatch.MathExpression(
            expression=" + ".join(f"FILL({key}, 0)" for key in metrics), using_metrics=metrics, period=PERIOD
        )
        self.above("DeadLetterWrites", total, 0, "records or messages written to the dead-letter store")

    def blocked(self, teams: Sequence[str]) -> None:
        """An anomaly band per listed web ACL, and a threshold on all the others together."""
        if self.settings.web_acls and len(teams) > MAX_ALARM_METRICS:
            raise InfraConfigError(
                f"the config names {len(teams)} teams; a web ACL's anomaly alarm can sum {MAX_ALARM_METRICS} "
                "metrics: leave web_acls empty or use fewer owner teams"
            )
        for web_acl in self.settings.web_acls:
            self.add(self._anomaly(web_acl, teams))
        others = " AND ".join(f"WebACL != '{w.name}'" for w in self.settings.web_acls)
        query = f'SELECT SUM(BlockedRequests) FROM SCHEMA("{NAMESPACE}", {", ".join(BLOCKED_DIMENSIONS)})'
        insights = cloudwatch.MathExpression(
            expression=f"{query} WHERE {others}" if others else query, period=PERIOD
        )
        what = "blocked requests of the web ACLs without their own alarm" if others else "blocked requests"
        self.above("BlockedRequests", insights, self.settings.blocked_threshold, what)

    def _anomaly(self, web_acl: WebAcl, teams: Sequence[str]) -> cloudwatch.AnomalyDetectionAlarm:
        parts = {
            f"team{i}": cloudwatch.Metric(
                namespace=NAMESPACE,
                metric_name="BlockedRequests",
                dimensions_map=dict(
                    zip(BLOCKED_DIMENSIONS, (web_acl.name, web_acl.account, team), strict=True)
                ),
                period=PERIOD,
                statistic="Sum",
            )
            for i, team in enumerate(teams)
        }
        series = cloudwatch.MathExpression(
            expression=" + ".join(f"FILL({key}, 0)" for key in parts),
            using_metrics=parts,
            period=PERIOD,
            label=f"blocked requests of {web_acl.name}",
        )
        return cloudwatch.AnomalyDetectionAlarm(
            self.scope,
            f"Blocked-{web_acl.account}-{web_acl.name}-Alarm",
            metric=series,
            std_devs=3,
            evaluation_periods=3,
            datapoints_to_alarm=2,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_UPPER_THRESHOLD,
            treat_missing_data=_MISSING_OK,
            alarm_description=f"blocked requests of {web_acl.name} ({web_acl.account}) above their band",
        )


def _topic(scope: Construct, settings: InfraSettings) -> sns.Topic:
    """The alarm topic, encrypted with a key CloudWatch may use (the AWS-managed SNS key refuses it)."""
    key = kms.Key(
        scope,
        "AlarmKey",
        description="waflens: encrypts the alarm topic",
        enable_key_rotation=True,
        policy=iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="KeyAdministration",
                    principals=[iam.AccountRootPrincipal()],
                    actions=list(KEY_ADMIN_ACTIONS),
                    resources=["*"],
                ),
                iam.PolicyStatement(
                    sid="CloudWatchAlarms",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
                ),
            ]
        ),
    )
    topic = sns.Topic(scope, "Alarms", master_key=key, enforce_ssl=True, display_name="waflens alarms")
    topic.add_to_resource_policy(
        iam.PolicyStatement(
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["sns:Publish"],
            resources=[topic.topic_arn],
            conditions={
                "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                "ArnLike": {
                    "aws:SourceArn": f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:*"
                },
            },
        )
    )
    if settings.alarm_email:
        topic.add_subscription(subscriptions.EmailSubscription(settings.alarm_email))
    return topic
