"""The synthesized stack, read as a specification: encryption, TLS, wiring, the handlers' variables,
alarms and what outlives the stack. IAM scope has its own module (test_infra_iam.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk.assertions import Match

from devtools.generate import iter_records
from enrich import schema as S
from enrich.config import EnrichConfig
from infra.alarms import BLOCKED_DIMENSIONS
from infra.deployment import ConfigFacts
from infra.functions import TIMEOUTS
from infra.lake_schema import lake_columns
from infra.settings import DEFAULT_CONFIG, ROOT
from infra.sources import MAX_RECEIVES
from ingest import environment, metrics
from ingest.compose import Settings
from ingest.config_file import load_document
from tests.support.infra import EXISTING_ARN, Synthesized
from tests.support.pipeline import enriched

DATA_STORES = (
    "AWS::S3::Bucket",
    "AWS::OpenSearchService::Domain",
    "AWS::Logs::LogGroup",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
)
# every variable name the handlers read: the constants of ingest.environment
HANDLER_VARIABLES = {v for k, v in vars(environment).items() if k.startswith("ENV_") and isinstance(v, str)}


def placeholder(value: object) -> str:
    """A CloudFormation value as text, tokens replaced by plausible stand-ins."""
    if isinstance(value, str):
        return value
    assert isinstance(value, Mapping), value
    if "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return str(separator).join(placeholder(part) for part in parts)
    if "Ref" in value:
        return f"ref-{str(value['Ref']).lower()}"
    if "Fn::GetAtt" in value:
        return f"{str(value['Fn::GetAtt'][0]).lower()}.us-east-1.es.amazonaws.com"
    raise AssertionError(f"no stand-in for {value}")


def functions(deployment: Synthesized) -> dict[str, dict[str, Any]]:
    """Lambda functions by handler (``ingest.handlers.s3.handler``)."""
    found = deployment.resources("AWS::Lambda::Function")
    return {r["Properties"]["ImageConfig"]["Command"][0]: r["Properties"] for r in found.values()}


def test_every_bucket_is_encrypted_private_and_refuses_plain_http(infra: dict[str, Synthesized]) -> None:
    template = infra["default"].template
    template.resource_count_is("AWS::S3::Bucket", 5)
    template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
            "OwnershipControls": {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
        },
    )
    policies = infra["default"].resources("AWS::S3::BucketPolicy")
    assert len(policies) == 5
    for policy in policies.values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert {"Bool": {"aws:SecureTransport": "false"}} in [s["Condition"] for s in denies]
        assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in [s["Condition"] for s in denies]


def test_every_bucket_aborts_incomplete_uploads_and_copies_expire(infra: dict[str, Synthesized]) -> None:
    buckets = infra["default"].resources("AWS::S3::Bucket")
    expiring = 0
    for bucket in buckets.values():
        rules = bucket["Properties"]["LifecycleConfiguration"]["Rules"]
        assert any(r.get("AbortIncompleteMultipartUpload") == {"DaysAfterInitiation": 7} for r in rules)
        expiring += any("ExpirationInDays" in r for r in rules)
    assert expiring == 4  # all but the lake, which moves to cheaper storage instead
    infra["default"].template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Transitions": [
                                    {"StorageClass": "STANDARD_IA", "TransitionInDays": 30},
                                    {"StorageClass": "GLACIER_IR", "TransitionInDays": 90},
                                ]
                            }
                        )
                    ]
                )
            }
        },
    )


def test_queues_and_the_alarm_topic_are_encrypted(infra: dict[str, Synthesized]) -> None:
    full = infra["full"]
    full.template.all_resources_properties("AWS::SQS::Queue", {"SqsManagedSseEnabled": True})
    full.template.has_resource_properties(
        "AWS::SNS::Topic", {"KmsMasterKeyId": {"Fn::GetAtt": [Match.string_like_regexp("AlarmKey"), "Arn"]}}
    )
    full.template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    full.template.has_resource_properties(
        "AWS::KinesisFirehose::DeliveryStream",
        {"DeliveryStreamEncryptionConfigurationInput": {"KeyType": "AWS_OWNED_CMK"}},
    )


@pytest.mark.parametrize("name", ["default", "full"])
def test_the_domain_encrypts_and_takes_only_modern_tls(infra: dict[str, Synthesized], name: str) -> None:
    infra[name].template.has_resource_properties(
        "AWS::OpenSearchService::Domain",
        {
            "EncryptionAtRestOptions": {"Enabled": True},
            "NodeToNodeEncryptionOptions": {"Enabled": True},
            "DomainEndpointOptions": {
                "EnforceHTTPS": True,
                "TLSSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10",
            },
            "AdvancedSecurityOptions": Match.object_like(
                {
                    "Enabled": True,
                    "InternalUserDatabaseEnabled": False,
                    "MasterUserOptions": {
                        "MasterUserARN": {"Fn::GetAtt": [Match.string_like_regexp("OpenSearchAdmin"), "Arn"]}
                    },
                }
            ),
        },
    )


def test_saml_signs_people_in_with_their_groups(infra: dict[str, Synthesized]) -> None:
    infra["full"].template.has_resource_properties(
        "AWS::OpenSearchService::Domain",
        {
            "AdvancedSecurityOptions": Match.object_like(
                {
                    "SAMLOptions": Match.object_like(
                        {
                            "Enabled": True,
                            "Idp": {
                                "EntityId": "https://idp.example.com",
                                "MetadataContent": Match.string_like_regexp("EntityDescriptor"),
                            },
                            "RolesKey": "groups",
                            "MasterBackendRole": "waf-admins",
                        }
                    )
                }
            ),
            "ClusterConfig": Match.object_like(
                {"InstanceCount": 3, "ZoneAwarenessConfig": {"AvailabilityZoneCount": 3}}
            ),
        },
    )
    infra["default"].template.has_resource_properties(
        "AWS::OpenSearchService::Domain",
        {"AdvancedSecurityOptions": Match.object_like({"SAMLOptions": Match.absent()})},
    )


def test_notifications_and_backfill_reach_the_s3_function_with_a_dead_letter_queue(
    infra: dict[str, Synthesized],
) -> None:
    deployment = infra["default"]
    queues = deployment.resources("AWS::SQS::Queue")
    sources = [q for q in queues.values() if "RedrivePolicy" in q["Properties"]]
    assert len(sources) == 2  # notifications and backfill; the other two are their dead-letter queues
    s3_timeout = TIMEOUTS["s3"].to_seconds()
    for queue in sources:
        props = queue["Properties"]
        assert props["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVES
        dead = props["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        assert queues[dead]["DeletionPolicy"] == "Retain"
        assert props["VisibilityTimeout"] >= 6 * s3_timeout
    mappings = deployment.resources("AWS::Lambda::EventSourceMapping")
    assert len(mappings) == 2
    s3_function = next(
        k for k, r in deployment.resources("AWS::Lambda::Function").items() if k.startswith("S3")
    )
    for mapping in mappings.values():
        assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["Properties"]["FunctionName"] == {"Ref": s3_function}


def test_the_log_bucket_announces_new_waf_objects_to_the_queue(infra: dict[str, Synthesized]) -> None:
    deployment = infra["default"]
    bucket = next(r for k, r in deployment.resources("AWS::S3::Bucket").items() if k.startswith("WafLogs"))
    queue = next(k for k in deployment.resources("AWS::SQS::Queue") if k.startswith("Notifications8"))
    assert bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"] == [
        {
            "Event": "s3:ObjectCreated:*",
            "Queue": {"Fn::GetAtt": [queue, "Arn"]},
            "Filter": {
                "S3Key": {
                    "Rules": [{"Name": "prefix", "Value": "AWSLogs/"}, {"Name": "suffix", "Value": ".log.gz"}]
                }
            },
        }
    ]
    assert any(d.startswith("NotificationsPolicy") for d in bucket["DependsOn"])  # S3 checks it first
    name = placeholder(bucket["Properties"]["BucketName"])
    assert name.startswith("aws-waf-logs-")  # WAF delivers only to buckets named so
    assert not deployment.resources("Custom::S3BucketNotifications")


def test_firehose_runs_the_transform_and_keeps_source_records(infra: dict[str, Synthesized]) -> None:
    deployment = infra["default"]
    stream = next(iter(deployment.resources("AWS::KinesisFirehose::DeliveryStream").values()))["Properties"]
    assert stream["DeliveryStreamName"].startswith("aws-waf-logs-")
    destination = stream["ExtendedS3DestinationConfiguration"]
    assert destination["S3BackupMode"] == "Enabled"
    assert destination["S3BackupConfiguration"]["Prefix"].startswith("source/")
    (processor,) = destination["ProcessingConfiguration"]["Processors"]
    parameters = {p["ParameterName"]: p["ParameterValue"] for p in processor["Parameters"]}
    assert parameters["LambdaArn"]["Fn::GetAtt"][0].startswith("FirehoseFunction")
    assert parameters["BufferSizeInMBs"] == "3"
    assert functions(deployment)["ingest.handlers.firehose.handler"]["Timeout"] <= 300  # Firehose waits 5 min


def test_the_cloudwatch_subscription_is_an_option_with_a_failure_queue(infra: dict[str, Synthesized]) -> None:
    assert "ingest.handlers.cloudwatch.handler" not in functions(infra["default"])
    full = infra["full"]
    assert "ingest.handlers.cloudwatch.handler" in functions(full)
    full.template.has_resource_properties(
        "AWS::Logs::SubscriptionFilter", {"LogGroupName": "aws-waf-logs-edge", "FilterPattern": ""}
    )
    full.template.has_resource_properties(
        "AWS::Lambda::EventInvokeConfig",
        {
            "MaximumRetryAttempts": 2,
            "DestinationConfig": {"OnFailure": {"Destination": {"Fn::GetAtt": [Match.any_value(), "Arn"]}}},
        },
    )


@pytest.mark.parametrize("name", ["default", "full", "existing", "lake-only"])
def test_each_function_is_configured_exactly_as_its_handler_reads_it(
    infra: dict[str, Synthesized], name: str
) -> None:
    for handler, props in functions(infra[name]).items():
        variables = {k: placeholder(v) for k, v in props["Environment"]["Variables"].items()}
        assert set(variables) <= HANDLER_VARIABLES, f"{handler} sets variables no handler reads"
        settings = environment.settings_from_environ({**variables, environment.ENV_REGION: "us-east-1"})
        assert isinstance(settings, Settings)
        assert settings.config is not None
        assert settings.config.name == "waflens.toml"
        assert settings.lake is not None
        assert settings.lake.startswith("s3://")
        assert settings.dead_letter is not None
        assert settings.dead_letter.startswith("s3://")
        assert (settings.firehose_mode == "index") == handler.endswith("firehose.handler")
        assert (settings.opensearch is None) == (name == "lake-only")
        if settings.opensearch is not None:
            assert settings.opensearch.resolved()[0] == "sigv4"
        assert settings.account_tags == ("organizations" if name == "full" else "off")


def test_a_given_domain_is_written_to_but_not_created(infra: dict[str, Synthesized]) -> None:
    existing = infra["existing"]
    assert not existing.resources("AWS::OpenSearchService::Domain")
    for props in functions(existing).values():
        variables = props["Environment"]["Variables"]
        assert variables["WAFLENS_OPENSEARCH_URL"] == existing.context["opensearch_endpoint"]
    assert EXISTING_ARN in str(existing.json["Resources"])


def test_the_glue_table_has_every_lake_column_and_projects_both_partitions(
    infra: dict[str, Synthesized],
) -> None:
    full = infra["full"]
    table = next(iter(full.resources("AWS::Glue::Table").values()))["Properties"]["TableInput"]
    columns = [(c["Name"], c["Type"]) for c in table["StorageDescriptor"]["Columns"]]
    assert columns == lake_columns()
    assert {name for name, _ in columns} | {S.TIMESTAMP} == {n.lower() for n in S.LAKE_FILE.names()} | {
        S.TIMESTAMP
    }
    assert table["PartitionKeys"] == [
        {"Name": "event_date", "Type": "string"},
        {"Name": "account", "Type": "string"},
    ]
    parameters = table["Parameters"]
    assert parameters["projection.enabled"] == "true"
    assert parameters["projection.event_date.type"] == "date"
    assert parameters["projection.event_date.format"] == "yyyy-MM-dd"
    assert parameters["projection.account.type"] == "enum"
    assert parameters["projection.account.values"] == "111111111111,012345678901,unknown"  # leading zero kept
    template = placeholder(parameters["storage.location.template"])
    assert template.endswith("/lake/event_date=${event_date}/account=${account}/")
    assert placeholder(table["StorageDescriptor"]["Location"]) == template.split("event_date=")[0]


def test_athena_queries_are_capped_and_their_results_encrypted(infra: dict[str, Synthesized]) -> None:
    infra["default"].template.has_resource_properties(
        "AWS::Athena::WorkGroup",
        {
            "WorkGroupConfiguration": Match.object_like(
                {
                    "EnforceWorkGroupConfiguration": True,
                    "BytesScannedCutoffPerQuery": 10 * 1024**3,
                    "ResultConfiguration": Match.object_like(
                        {"EncryptionConfiguration": {"EncryptionOption": "SSE_S3"}}
                    ),
                }
            )
        },
    )


@pytest.mark.parametrize("name", ["default", "full"])
def test_data_stores_outlive_the_stack(infra: dict[str, Synthesized], name: str) -> None:
    deployment = infra[name]
    for kind in DATA_STORES:
        for logical_id, resource in deployment.resources(kind).items():
            assert resource.get("DeletionPolicy") == "Retain", logical_id
            assert resource.get("UpdateReplacePolicy") == "Retain", logical_id
    kinds = {r["Type"] for r in deployment.json["Resources"].values()}
    # no custom resource: nothing runs at stack removal (no index template is ever deleted)
    assert not any(k.startswith("Custom::") or k == "AWS::CloudFormation::CustomResource" for k in kinds)
    handlers = set(functions(deployment))
    assert len(deployment.resources("AWS::Lambda::Function")) == len(handlers)  # waflens's own only


def alarms(deployment: Synthesized) -> list[dict[str, Any]]:
    return [r["Properties"] for r in deployment.resources("AWS::CloudWatch::Alarm").values()]


def metric_names(alarm: dict[str, Any]) -> set[str]:
    if "MetricName" in alarm:
        return {alarm["MetricName"]}
    return {m["MetricStat"]["Metric"]["MetricName"] for m in alarm.get("Metrics", []) if "MetricStat" in m}


def test_alarms_cover_functions_queues_firehose_and_dead_letters(infra: dict[str, Synthesized]) -> None:
    deployment = infra["full"]
    found = alarms(deployment)
    (topic,) = deployment.resources("AWS::SNS::Topic")
    assert all(props["AlarmActions"] == [{"Ref": topic}] for props in found)
    by_metric: dict[str, int] = {}
    for props in found:
        for name in metric_names(props):
            by_metric[name] = by_metric.get(name, 0) + 1
    assert by_metric["Errors"] == by_metric["Throttles"] == by_metric["Duration"] == 3  # three functions
    assert by_metric["ApproximateNumberOfMessagesVisible"] == 2  # the two dead-letter queues
    assert by_metric["ApproximateAgeOfOldestMessage"] == 3  # notifications, backfill, CloudWatch failures
    assert by_metric["ExecuteProcessing.Success"] == by_metric["DeliveryToS3.Success"] == 1
    assert by_metric["RecordsRejected"] == by_metric["DeadLetteredMessages"] == 1
    durations = [a for a in found if a.get("MetricName") == "Duration"]
    assert all(a["Threshold"] < 300_000 for a in durations)
    assert {"ClusterStatus.red", "ClusterIndexWritesBlocked", "FreeStorageSpace"} <= set(by_metric)


def test_blocked_requests_have_an_anomaly_band_per_listed_web_acl(infra: dict[str, Synthesized]) -> None:
    found = alarms(infra["full"])
    bands = [a for a in found if "ThresholdMetricId" in a]
    assert len(bands) == 2  # web_acls names two
    teams = {"payments-eng", "search-eng", "platform-eng", "security", "unowned"}
    for band in bands:
        metrics = {m["Id"]: m for m in band["Metrics"]}
        assert "ANOMALY_DETECTION_BAND" in metrics[band["ThresholdMetricId"]]["Expression"]
        stats = [m["MetricStat"]["Metric"] for m in metrics.values() if "MetricStat" in m]
        assert {s["Namespace"] for s in stats} == {"waflens"}
        dims = [{d["Name"]: d["Value"] for d in s["Dimensions"]} for s in stats]
        assert {d["Team"] for d in dims} == teams
        assert len({(d["WebACL"], d["Account"]) for d in dims}) == 1
        assert band["ComparisonOperator"] == "GreaterThanUpperThreshold"
    (rest,) = [
        a
        for a in found
        if any("SELECT SUM(BlockedRequests)" in m.get("Expression", "") for m in a.get("Metrics", []))
    ]
    query = rest["Metrics"][0]["Expression"]
    assert "WebACL != 'prod-api' AND WebACL != 'admin'" in query
    assert rest["Threshold"] == 1000


def test_stack_outputs_name_what_the_deployer_needs(infra: dict[str, Synthesized]) -> None:
    outputs = infra["default"].json["Outputs"]
    assert {
        "OpenSearchAdminRole",
        "SetupCommand",
        "FirehoseIngestRole",
        "S3IngestRole",
        "BackfillQueueUrl",
    } <= set(outputs)
    command = placeholder(outputs["SetupCommand"]["Value"])
    assert command.startswith("waflens setup --opensearch https://")
    assert "--config examples/waflens.toml" in command


def test_unmapped_writers_are_named_and_mapped_ones_are_not(infra: dict[str, Synthesized]) -> None:
    assert len(infra["default"].notices) == 2
    assert all("[access.roles.writer]" in n and "waflens-ingest-" in n for n in infra["default"].notices)
    assert infra["full"].notices == []
    assert infra["lake-only"].notices == ["opensearch=none: the functions write the lake only"]


def test_the_alarms_name_the_dimensions_and_teams_the_handlers_report() -> None:
    example = ROOT / DEFAULT_CONFIG
    config = EnrichConfig.from_mapping(load_document(example))
    frame = enriched((r.decode() for r in iter_records(400, seed=11)), config=config)

    blocked = metrics._blocked(frame)  # the BlockedRequests series the handlers write as EMF

    assert tuple(blocked.columns[:-1]) == BLOCKED_DIMENSIONS
    teams = set(blocked["Team"].to_list())
    assert len(teams) > 1
    assert teams <= set(ConfigFacts.load(example).teams)
