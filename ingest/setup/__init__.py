"""Applies cluster content (``dashboards.registry``) to OpenSearch and OpenSearch Dashboards, idempotently."""

from ingest.setup.apply import SetupError, apply_all
from ingest.setup.changes import Change, ChangedObject, SetupReport
from ingest.setup.dashboards import DashboardsClient, connect
from ingest.setup.render import render

__all__ = [
    "Change",
    "ChangedObject",
    "DashboardsClient",
    "SetupError",
    "SetupReport",
    "apply_all",
    "connect",
    "render",
]
