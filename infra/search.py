"""The OpenSearch domain: fine-grained access control with an admin master role that is not the ingester.

The master user is an IAM role made here for people (``admin_principal`` may assume it) and used to
run ``waflens setup``; the ingest functions' roles get only ``es:ESHttpPost``/``es:ESHttpPut`` on
``_bulk`` and the waflens indices, in their own policies and in the domain's access policy, and reach
the cluster as the ``waflens-writer`` role that setup maps to them. The domain and its indices outlive
the stack: nothing here deletes an index template or an index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Aws, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_opensearchservice as opensearch
from constructs import Construct

from infra.functions import IngestRole, log_group
from infra.settings import Domain, InfraSettings

# Every HTTP verb of the domain's API, named: the admin runs setup (GET, PUT, POST, DELETE) and people
# signed in through SAML use Dashboards; fine-grained access control decides what each may do.
HTTP_ACTIONS: Final = tuple(f"es:ESHttp{verb}" for verb in ("Get", "Head", "Post", "Put", "Delete", "Patch"))
WRITER_ACTIONS: Final = ("es:ESHttpPost", "es:ESHttpPut")  # the sink's POST /_bulk (PUT: the same API)


@dataclass(frozen=True)
class Search:
    """Where the functions send documents, and who administers the cluster."""

    url: str  # https://host, as WAFLENS_OPENSEARCH_URL
    arn: str
    domain: opensearch.Domain | None  # None: a domain the stack was given
    admin_role: iam.Role | None


def writer_resources(domain_arn: str, index_prefix: str) -> list[str]:
    """What a writer may call: the bulk API and the daily indices (``<prefix>-YYYY.MM.DD``)."""
    return [f"{domain_arn}/_bulk", f"{domain_arn}/{index_prefix}-*"]


def grant_writers(writers: list[IngestRole], domain_arn: str, index_prefix: str) -> None:
    """The ingest roles' own half of the permission (the domain's access policy is the other)."""
    for writer in writers:
        writer.role.add_to_policy(
            iam.PolicyStatement(
                actions=list(WRITER_ACTIONS), resources=writer_resources(domain_arn, index_prefix)
            )
        )


def existing_search(settings: InfraSettings) -> Search:
    """A domain the stack was given: only the writers' policies change; its access policy is yours."""
    domain = settings.domain
    assert domain.endpoint is not None  # InfraSettings requires both for opensearch=existing
    assert domain.arn is not None
    return Search(url=domain.endpoint, arn=domain.arn, domain=None, admin_role=None)


def create_search(
    scope: Construct, settings: InfraSettings, writers: list[IngestRole], *, index_prefix: str
) -> Search:
    """The domain, its admin role, its error log and its access policy."""
    config = settings.domain
    arn = f"arn:{Aws.PARTITION}:es:{Aws.REGION}:{Aws.ACCOUNT_ID}:domain/{config.name}"
    admin = iam.Role(
        scope,
        "OpenSearchAdmin",
        role_name=f"{settings.stack_name}-opensearch-admin",
        assumed_by=iam.ArnPrincipal(config.admin_principal)
        if config.admin_principal
        else iam.AccountRootPrincipal(),
        description="waflens: the OpenSearch master user; run waflens setup with it, never ingest",
    )
    admin.add_to_policy(iam.PolicyStatement(actions=list(HTTP_ACTIONS), resources=[f"{arn}/*"]))
    app_logs = log_group(scope, "OpenSearchAppLogs", f"/waflens/{settings.stack_name}/opensearch", settings)
    domain = opensearch.Domain(
        scope,
        "OpenSearch",
        domain_name=config.name,
        version=opensearch.EngineVersion.open_search(config.version),
        capacity=opensearch.CapacityConfig(
            data_nodes=config.instance_count,
            data_node_instance_type=config.instance_type,
            multi_az_with_standby_enabled=False,
        ),
        zone_awareness=_zones(config.instance_count),
        ebs=opensearch.EbsOptions(volume_size=config.volume_gb, volume_type=ec2.EbsDeviceVolumeType.GP3),
        encryption_at_rest=opensearch.EncryptionAtRestOptions(enabled=True),
        node_to_node_encryption=True,
        enforce_https=True,
        tls_security_policy=opensearch.TLSSecurityPolicy.TLS_1_2_PFS,
        fine_grained_access_control=opensearch.AdvancedSecurityOptions(
            master_user_arn=admin.role_arn,
            saml_authentication_enabled=config.saml is not None,
            saml_authentication_options=_saml(config),
        ),
        logging=opensearch.LoggingOptions(app_log_enabled=True, app_log_group=app_logs),
        suppress_logs_resource_policy=True,  # declared below, without CDK's custom-resource Lambda
        enable_version_upgrade=True,
        removal_policy=RemovalPolicy.RETAIN,
    )
    domain.node.add_dependency(_allow_log_publishing(scope, app_logs))  # checked when the domain is made
    cfn = domain.node.default_child
    assert isinstance(cfn, opensearch.CfnDomain)
    # set on the resource itself: CDK's access_policies prop adds a custom resource to break the cycle
    # between the policy and the domain's ARN, which is built from the name here instead
    cfn.access_policies = access_policy(arn, writers, admin, config, index_prefix=index_prefix)
    return Search(url=f"https://{domain.domain_endpoint}", arn=arn, domain=domain, admin_role=admin)


def access_policy(
    arn: str, writers: list[IngestRole], admin: iam.Role, config: Domain, *, index_prefix: str
) -> dict[str, object]:
    """Who may reach the domain at all; fine-grained access control then decides what each may do.

    Dashboards users signed in through SAML send unsigned requests from a browser, so with SAML the
    policy lets anyone's requests reach the domain (from ``dashboards_cidrs`` only, when given) and
    fine-grained access control authenticates them; without SAML only the named roles get in.
    """
    statements: list[dict[str, object]] = [
        {
            "Effect": "Allow",
            "Principal": {"AWS": [w.role.role_arn for w in writers]},
            "Action": list(WRITER_ACTIONS),
            "Resource": writer_resources(arn, index_prefix),
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": admin.role_arn},
            "Action": list(HTTP_ACTIONS),
            "Resource": f"{arn}/*",
        },
    ]
    if config.saml is not None:
        browser: dict[str, object] = {
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": list(HTTP_ACTIONS),
            "Resource": f"{arn}/*",
        }
        if config.dashboards_cidrs:
            browser["Condition"] = {"IpAddress": {"aws:SourceIp": list(config.dashboards_cidrs)}}
        statements.append(browser)
    return {"Version": "2012-10-17", "Statement": statements}


def _zones(nodes: int) -> opensearch.ZoneAwarenessConfig:
    """Spread data nodes over 3 or 2 zones when they divide evenly, so a zone's loss keeps a replica."""
    for zones in (3, 2):
        if nodes >= zones and nodes % zones == 0:
            return opensearch.ZoneAwarenessConfig(enabled=True, availability_zone_count=zones)
    return opensearch.ZoneAwarenessConfig(enabled=False)


def _saml(config: Domain) -> opensearch.SAMLOptionsProperty | None:
    if config.saml is None:
        return None
    return opensearch.SAMLOptionsProperty(
        idp_entity_id=config.saml.entity_id,
        idp_metadata_content=config.saml.metadata,
        roles_key=config.saml.roles_key,
        master_backend_role=config.saml.master_group,
        session_timeout_minutes=480,
    )


def _allow_log_publishing(scope: Construct, log_group: logs.LogGroup) -> logs.CfnResourcePolicy:
    """OpenSearch Service writes the domain's error log with a CloudWatch Logs resource policy."""
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "es.amazonaws.com"},
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
        "Resource": log_group.log_group_arn,
        "Condition": {"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
    }
    document = {"Version": "2012-10-17", "Statement": [statement]}
    return logs.CfnResourcePolicy(
        scope,
        "OpenSearchLogPolicy",
        policy_name=f"{Stack.of(scope).stack_name}-opensearch-logs",
        policy_document=Stack.of(scope).to_json_string(document),
    )
