"""The lake, queryable at scale with no crawler: a Glue table with partition projection, and Athena.

Partition projection computes partitions from the table's properties instead of asking the catalog, so
a new day or account needs no crawler and no ``MSCK REPAIR``. ``event_date`` is projected as a date
(``yyyy-MM-dd``, from ``lake_since`` to today). ``account`` is an ``enum`` of the accounts the stack
receives logs from, plus ``unknown``: an ``injected`` column would fail every query that does not name
one account (the README's examples do not), and an ``integer`` one would enumerate 10^12 values and
cannot hold ``unknown``. An account not in the list is invisible to Athena until it is added and the
stack deployed again, which the WAF log bucket's policy needs for a new account anyway.
https://docs.aws.amazon.com/athena/latest/ug/partition-projection-supported-types.html
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from constructs import Construct

from enrich.schema import UNKNOWN_ACCOUNT
from infra.lake_schema import PARTITION_KEYS, lake_columns
from infra.settings import InfraSettings
from infra.storage import LAKE_PREFIX, Buckets

TABLE: Final = "events"
PARQUET_SERDE: Final = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
PARQUET_INPUT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT: Final = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
GB: Final = 1024**3


@dataclass(frozen=True)
class Lake:
    """The catalog entries and the workgroup to query them in."""

    database: glue.CfnDatabase
    table: glue.CfnTable
    workgroup: athena.CfnWorkGroup
    query_policy: iam.ManagedPolicy


def projection(settings: InfraSettings, lake_root: str) -> dict[str, str]:
    """The table properties that make Athena project the lake's hive partitions."""
    accounts = [*(settings.accounts or [Aws.ACCOUNT_ID]), UNKNOWN_ACCOUNT]
    date, account = PARTITION_KEYS
    return {
        "classification": "parquet",
        "projection.enabled": "true",
        f"projection.{date}.type": "date",
        f"projection.{date}.format": "yyyy-MM-dd",
        f"projection.{date}.range": f"{settings.lake_since},NOW",
        f"projection.{date}.interval": "1",
        f"projection.{date}.interval.unit": "DAYS",
        f"projection.{account}.type": "enum",
        f"projection.{account}.values": ",".join(accounts),
        "storage.location.template": f"{lake_root}/{date}=${{{date}}}/{account}=${{{account}}}/",
    }


def create_lake(scope: Construct, settings: InfraSettings, buckets: Buckets) -> Lake:
    """The Glue database and table over the lake, the workgroup, and a policy for people who query."""
    lake_root = buckets.lake_uri
    database = glue.CfnDatabase(
        scope,
        "LakeDatabase",
        catalog_id=Aws.ACCOUNT_ID,
        database_input=glue.CfnDatabase.DatabaseInputProperty(
            name=settings.glue_database, description="waflens: the Parquet lake of WAF events"
        ),
    )
    table = glue.CfnTable(
        scope,
        "LakeTable",
        catalog_id=Aws.ACCOUNT_ID,
        database_name=settings.glue_database,
        table_input=glue.CfnTable.TableInputProperty(
            name=TABLE,
            description="WAF events, one row per event (enrich.schema.LAKE_FILE); partitions are projected",
            table_type="EXTERNAL_TABLE",
            parameters=projection(settings, lake_root),
            partition_keys=[glue.CfnTable.ColumnProperty(name=key, type="string") for key in PARTITION_KEYS],
            storage_descriptor=glue.CfnTable.StorageDescriptorProperty(
                columns=[glue.CfnTable.ColumnProperty(name=n, type=t) for n, t in lake_columns()],
                location=f"{lake_root}/",
                input_format=PARQUET_INPUT,
                output_format=PARQUET_OUTPUT,
                serde_info=glue.CfnTable.SerdeInfoProperty(serialization_library=PARQUET_SERDE),
            ),
        ),
    )
    table.node.add_dependency(database)
    for resource in (database, table):
        resource.apply_removal_policy(RemovalPolicy.RETAIN)
    workgroup = _workgroup(scope, settings, buckets)
    return Lake(database, table, workgroup, _query_policy(scope, settings, buckets, workgroup))


def _workgroup(scope: Construct, settings: InfraSettings, buckets: Buckets) -> athena.CfnWorkGroup:
    """Results encrypted in their own bucket, and no query scanning more than the limit."""
    cfn = athena.CfnWorkGroup
    return cfn(
        scope,
        "Workgroup",
        name=settings.stack_name,
        description="waflens: queries over the WAF lake",
        state="ENABLED",
        work_group_configuration=cfn.WorkGroupConfigurationProperty(
            enforce_work_group_configuration=True,  # users cannot send results elsewhere or lift the limit
            bytes_scanned_cutoff_per_query=settings.athena_scan_limit_gb * GB,
            publish_cloud_watch_metrics_enabled=True,
            engine_version=cfn.EngineVersionProperty(selected_engine_version="Athena engine version 3"),
            result_configuration=cfn.ResultConfigurationProperty(
                output_location=f"s3://{buckets.athena_results.bucket_name}/results/",
                encryption_configuration=cfn.EncryptionConfigurationProperty(encryption_option="SSE_S3"),
                expected_bucket_owner=Aws.ACCOUNT_ID,
            ),
        ),
    )


def _query_policy(
    scope: Construct, settings: InfraSettings, buckets: Buckets, workgroup: athena.CfnWorkGroup
) -> iam.ManagedPolicy:
    """To attach to people and tools that query the lake in Athena: read the lake, use the workgroup."""
    glue_resources = [
        _arn("glue", "catalog"),
        _arn("glue", f"database/{settings.glue_database}"),
        _arn("glue", f"table/{settings.glue_database}/{TABLE}"),
    ]
    results = buckets.athena_results
    return iam.ManagedPolicy(
        scope,
        "LakeQuery",
        description="waflens: query the lake with Athena in its workgroup",
        statements=[
            iam.PolicyStatement(
                actions=[
                    "athena:StartQueryExecution",
                    "athena:StopQueryExecution",
                    "athena:GetQueryExecution",
                    "athena:GetQueryResults",
                    "athena:GetWorkGroup",
                ],
                resources=[_arn("athena", f"workgroup/{workgroup.name}")],
            ),
            iam.PolicyStatement(
                actions=["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"], resources=glue_resources
            ),
            iam.PolicyStatement(
                actions=["s3:GetBucketLocation", "s3:ListBucket"],
                resources=[buckets.lake.bucket_arn, results.bucket_arn],
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[buckets.lake.arn_for_objects(f"{LAKE_PREFIX}/*")]
            ),
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[results.arn_for_objects("results/*")],
            ),
        ],
    )


def _arn(service: str, resource: str) -> str:
    return f"arn:{Aws.PARTITION}:{service}:{Aws.REGION}:{Aws.ACCOUNT_ID}:{resource}"
