"""IAM scope of the synthesized stack: no wildcard actions, ``Resource: "*"`` only for actions that take
no resource, and each role holding exactly what its function or service needs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.infra import Synthesized, grants, listed, stem, text

# Actions that accept no resource ARN: "*" is the only resource they can name (AWS service authorization
# reference). KMS key policies are the other exception: there "*" means the key the policy is on.
RESOURCELESS = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}
POLICY_TYPES = {
    "AWS::IAM::Policy": "PolicyDocument",
    "AWS::IAM::ManagedPolicy": "PolicyDocument",
    "AWS::S3::BucketPolicy": "PolicyDocument",
    "AWS::SQS::QueuePolicy": "PolicyDocument",
    "AWS::SNS::TopicPolicy": "PolicyDocument",
    "AWS::KMS::Key": "KeyPolicy",
    "AWS::OpenSearchService::Domain": "AccessPolicies",
    "AWS::Logs::ResourcePolicy": "PolicyDocument",
}
WRITER = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
BULK = (
    "arn:aws:es:region:account:domain/waflens/_bulk",
    "arn:aws:es:region:account:domain/waflens/waflens-events-*",
)


def statements(deployment: Synthesized) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every policy statement: the resource it belongs to, that resource's type, the statement."""
    for logical_id, resource in deployment.json["Resources"].items():
        kind = resource["Type"]
        documents = []
        if kind in POLICY_TYPES and POLICY_TYPES[kind] in resource["Properties"]:
            documents.append(resource["Properties"][POLICY_TYPES[kind]])
        if kind == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in resource["Properties"].get("Policies", [])]
        for found in documents:
            # a document given as a JSON string (the CloudWatch Logs resource policy) is parsed
            document = found if "Statement" in found else json.loads(text(found))
            for statement in listed(document["Statement"]):
                yield logical_id, kind, statement


@pytest.mark.parametrize("name", ["default", "full", "existing", "lake-only"])
def test_no_allow_statement_names_a_wildcard_action(infra: dict[str, Synthesized], name: str) -> None:
    allowed = [(i, s) for i, _, s in statements(infra[name]) if s["Effect"] == "Allow"]
    assert len(allowed) > 20
    wild = [(i, a) for i, s in allowed for a in listed(s["Action"]) if "*" in a]
    assert wild == []


@pytest.mark.parametrize("name", ["default", "full", "existing", "lake-only"])
def test_star_resources_only_for_actions_that_take_none(infra: dict[str, Synthesized], name: str) -> None:
    for logical_id, kind, statement in statements(infra[name]):
        if statement["Effect"] != "Allow" or "*" not in listed(statement.get("Resource", [])):
            continue
        assert kind == "AWS::KMS::Key" or set(listed(statement["Action"])) <= RESOURCELESS, logical_id


def test_each_function_reaches_only_its_own_buckets_queues_and_indices(infra: dict[str, Synthesized]) -> None:
    default = infra["default"]
    common = {
        ("s3:ListBucket", "LakeBucket"),
        ("s3:ListBucket", "DeadLetterBucket"),
        *((a, "LakeBucket/lake*") for a in WRITER),
        ("es:ESHttpPost", BULK[0]),
        ("es:ESHttpPost", BULK[1]),
        ("es:ESHttpPut", BULK[0]),
        ("es:ESHttpPut", BULK[1]),
        ("xray:PutTraceSegments", "*"),
        ("xray:PutTelemetryRecords", "*"),
    }
    assert grants(default, "FirehoseIngestRole") == common | {
        *((a, "DeadLetterBucket/firehose*") for a in WRITER),
        ("logs:CreateLogStream", "FirehoseFunctionLogs"),
        ("logs:PutLogEvents", "FirehoseFunctionLogs"),
    }
    waf_logs = "arn:aws:s3:::aws-waf-logs-waflens-account-region"
    consume = ("sqs:ReceiveMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueUrl", "sqs:DeleteMessage")
    assert grants(default, "S3IngestRole") == common | {
        *((a, "DeadLetterBucket/s3*") for a in WRITER),
        ("logs:CreateLogStream", "S3FunctionLogs"),
        ("logs:PutLogEvents", "S3FunctionLogs"),
        ("s3:ListBucket", waf_logs),
        ("s3:GetObject", f"{waf_logs}/*"),
        ("s3:GetObjectVersion", f"{waf_logs}/*"),
        *((a, q) for a in (*consume, "sqs:GetQueueAttributes") for q in ("Notifications", "Backfill")),
    }


def test_optional_grants_follow_the_context(infra: dict[str, Synthesized]) -> None:
    full = grants(infra["full"], "S3IngestRole")
    assert ("s3:GetObject", "arn:aws:s3:::old-waf-logs/*") in full  # backfill_buckets
    assert ("organizations:DescribeAccount", "arn:aws:organizations::*:account/o-*/*") in full
    lake_only = grants(infra["lake-only"], "S3IngestRole")
    assert not {a for a, _ in lake_only if a.startswith("es:")}
    existing = grants(infra["existing"], "S3IngestRole")
    assert ("es:ESHttpPost", "arn:aws:es:eu-west-1:123456789012:domain/central-waf/_bulk") in existing


def access_policy(deployment: Synthesized) -> list[dict[str, Any]]:
    (domain,) = deployment.resources("AWS::OpenSearchService::Domain").values()
    return list(domain["Properties"]["AccessPolicies"]["Statement"])


def test_the_domain_lets_writers_bulk_index_and_only_the_admin_do_more(infra: dict[str, Synthesized]) -> None:
    writers, admin = access_policy(infra["default"])
    assert {text(p) for p in writers["Principal"]["AWS"]} == {"FirehoseIngestRole", "S3IngestRole"}
    assert writers["Action"] == ["es:ESHttpPost", "es:ESHttpPut"]
    assert [text(r) for r in writers["Resource"]] == list(BULK)
    assert text(admin["Principal"]["AWS"]) == "OpenSearchAdmin"
    assert text(admin["Resource"]) == "arn:aws:es:region:account:domain/waflens/*"
    (domain,) = infra["default"].resources("AWS::OpenSearchService::Domain").values()
    master = domain["Properties"]["AdvancedSecurityOptions"]["MasterUserOptions"]["MasterUserARN"]
    assert text(master) == "OpenSearchAdmin"  # the master user is the admin role, never an ingester


def test_with_saml_browsers_reach_the_domain_only_from_the_listed_ranges(
    infra: dict[str, Synthesized],
) -> None:
    statements_ = access_policy(infra["full"])
    browsers = [s for s in statements_ if s["Principal"] == {"AWS": "*"}]
    assert len(browsers) == 1
    assert browsers[0]["Condition"] == {"IpAddress": {"aws:SourceIp": ["203.0.113.0/24"]}}
    assert not [s for s in access_policy(infra["default"]) if s["Principal"] == {"AWS": "*"}]


def test_roles_are_assumable_only_by_what_uses_them(infra: dict[str, Synthesized]) -> None:
    roles = infra["default"].resources("AWS::IAM::Role")
    trust = {
        stem(k): [s["Principal"] for s in r["Properties"]["AssumeRolePolicyDocument"]["Statement"]]
        for k, r in roles.items()
    }
    assert trust["FirehoseIngestRole"] == trust["S3IngestRole"] == [{"Service": "lambda.amazonaws.com"}]
    assert trust["FirehoseDeliveryRole"] == [{"Service": "firehose.amazonaws.com"}]
    assert text(trust["OpenSearchAdmin"][0]["AWS"]) == "arn:aws:iam::account:root"
    delivery = next(r for k, r in roles.items() if k.startswith("FirehoseDeliveryRole"))
    condition = delivery["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Condition"]
    assert text(condition["StringEquals"]["sts:ExternalId"]) == "account"


def test_firehose_may_write_its_bucket_and_invoke_its_function_only(infra: dict[str, Synthesized]) -> None:
    assert grants(infra["default"], "FirehoseDeliveryRole") == {
        ("s3:GetBucketLocation", "FirehoseBucket"),
        ("s3:ListBucket", "FirehoseBucket"),
        ("s3:ListBucketMultipartUploads", "FirehoseBucket"),
        ("s3:AbortMultipartUpload", "FirehoseBucket/*"),
        ("s3:GetObject", "FirehoseBucket/*"),
        ("s3:PutObject", "FirehoseBucket/*"),
        ("lambda:InvokeFunction", "FirehoseFunction"),
        ("lambda:InvokeFunction", "FirehoseFunction:*"),
        ("lambda:GetFunctionConfiguration", "FirehoseFunction"),
        ("lambda:GetFunctionConfiguration", "FirehoseFunction:*"),
        ("logs:PutLogEvents", "FirehoseDeliveryLogs"),
    }


def test_waf_may_deliver_logs_only_for_the_listed_accounts(infra: dict[str, Synthesized]) -> None:
    policies = infra["full"].resources("AWS::S3::BucketPolicy")
    (waf,) = [p for p in policies.values() if text(p["Properties"]["Bucket"]) == "WafLogsBucket"]
    (write,) = [
        s for s in waf["Properties"]["PolicyDocument"]["Statement"] if s.get("Sid") == "WafLogDeliveryWrite"
    ]
    assert write["Principal"] == {"Service": "delivery.logs.amazonaws.com"}
    assert write["Condition"]["StringEquals"]["aws:SourceAccount"] == ["111111111111", "012345678901"]
    assert [text(r) for r in write["Resource"]] == [
        "WafLogsBucket/AWSLogs/111111111111/*",
        "WafLogsBucket/AWSLogs/012345678901/*",
    ]
