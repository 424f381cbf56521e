"""The waflens stack: buckets, ingest functions and their sources, OpenSearch, the lake's table, alarms."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import CfnOutput, Stack, Tags
from constructs import Construct

from infra.alarms import Alarms
from infra.deployment import ConfigFacts
from infra.functions import TIMEOUTS, IngestRole, Kind, ingest_function, ingest_role
from infra.lake import TABLE, create_lake
from infra.search import Search, create_search, existing_search, grant_writers
from infra.settings import InfraSettings
from infra.sources import Queues, cloudwatch_subscription, firehose_stream, s3_sources
from infra.storage import create_buckets


class WaflensStack(Stack):
    """Everything one waflens deployment runs; ``notices`` are what the deployer must still do."""

    def __init__(self, scope: Construct, settings: InfraSettings, facts: ConfigFacts, image: Path) -> None:
        super().__init__(
            scope, settings.stack_name, description="waflens: WAF logs into OpenSearch and a Parquet lake"
        )
        Tags.of(self).add("project", "waflens")
        self.settings = settings
        buckets = create_buckets(self, settings)
        kinds: list[Kind] = ["firehose", "s3"]
        if settings.cloudwatch_log_group:
            kinds.append("cloudwatch")
        roles = {kind: ingest_role(self, settings, kind) for kind in kinds}
        search = self._search(list(roles.values()), facts)
        url = search.url if search else None
        self.functions = {
            kind: ingest_function(
                self, settings, roles[kind], image=image, buckets=buckets, opensearch_url=url
            )
            for kind in kinds
        }
        queues = s3_sources(self, settings, buckets, self.functions["s3"], roles["s3"].role)
        stream = firehose_stream(self, settings, buckets, self.functions["firehose"])
        lake = create_lake(self, settings, buckets)
        alarms = self._watch(queues, facts, search)
        self.notices = _notices(settings, facts, list(roles.values()), search)
        outputs = {
            "WafLogBucket": buckets.waf_logs.bucket_name,  # a WAF logging destination
            "FirehoseArn": stream.attr_arn,  # the other one
            "NotificationQueueUrl": queues.notifications.queue_url,
            "BackfillQueueUrl": queues.backfill.queue_url,
            "BackfillPolicy": queues.backfill_policy.managed_policy_arn,
            "Lake": buckets.lake_uri,
            "DeadLetters": f"s3://{buckets.dead_letter.bucket_name}",
            "AthenaTable": f"{settings.glue_database}.{TABLE}",
            "AthenaWorkgroup": settings.stack_name,
            "LakeQueryPolicy": lake.query_policy.managed_policy_arn,
            "AlarmTopic": alarms.topic.topic_arn,
            **{f"{kind.capitalize()}IngestRole": role.role.role_arn for kind, role in roles.items()},
            **_search_outputs(settings, search),
        }
        scope = Construct(self, "Outputs")  # its own scope: output names may repeat construct names
        for name, value in outputs.items():
            CfnOutput(scope, name, value=value).override_logical_id(name)

    def _search(self, writers: list[IngestRole], facts: ConfigFacts) -> Search | None:
        mode = self.settings.domain.mode
        if mode == "none":
            return None
        if mode == "existing":
            search = existing_search(self.settings)
        else:
            search = create_search(self, self.settings, writers, index_prefix=facts.index_prefix)
        grant_writers(writers, search.arn, facts.index_prefix)
        return search

    def _watch(self, queues: Queues, facts: ConfigFacts, search: Search | None) -> Alarms:
        """Every alarm, and the CloudWatch subscription's failure queue, which one of them watches."""
        alarms = Alarms(self, self.settings)
        for kind, function in self.functions.items():
            alarms.function(kind.capitalize(), function, TIMEOUTS[kind])
        alarms.queue("Notifications", queues.notifications, queues.notifications_dlq)
        alarms.queue("Backfill", queues.backfill, queues.backfill_dlq)
        if "cloudwatch" in self.functions:
            failed = cloudwatch_subscription(self, self.settings, self.functions["cloudwatch"])
            alarms.queue("CloudWatchFailures", failed, None)
        alarms.firehose(self.settings.firehose_name)
        alarms.dead_letters(self.functions["s3"].log_group)
        alarms.blocked(facts.teams)
        if search is not None and search.domain is not None:
            alarms.domain(search.domain, self.settings.domain.volume_gb)
        return alarms


def _search_outputs(settings: InfraSettings, search: Search | None) -> dict[str, str]:
    """The cluster's URL and, for a domain the stack made, its admin role and the setup command."""
    if search is None:
        return {}
    outputs = {"OpenSearchUrl": search.url}
    if search.admin_role is not None:
        url, config = search.url, settings.config_given
        outputs["OpenSearchAdminRole"] = search.admin_role.role_arn
        outputs["SetupCommand"] = (
            f"waflens setup --opensearch {url} --dashboards {url}/_dashboards --config {config}"
        )
    return outputs


def _notices(
    settings: InfraSettings, facts: ConfigFacts, writers: list[IngestRole], search: Search | None
) -> list[str]:
    """What synthesis cannot do for the deployer, one sentence each."""
    if search is None:
        return ["opensearch=none: the functions write the lake only"]
    missing = [w.name for w in writers if not facts.maps_writer(w.name)]
    if not missing:
        return []
    return [
        f"{settings.config.name} [access.roles.writer] backend_roles does not name the role {name} "
        f"(arn:aws:iam::ACCOUNT:role/{name}); OpenSearch refuses its writes (403) until it does and "
        "waflens setup has run"
        for name in missing
    ]
