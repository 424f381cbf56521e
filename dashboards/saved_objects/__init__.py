"""OpenSearch Dashboards saved objects as code: typed content, one encoding, one ``.ndjson`` bundle.

``content.py`` says what is shown (which visualizations, on which fields, on which dashboards);
``encode.py`` owns the JSON-in-JSON shapes Dashboards stores; ``registry.py`` lists what is shipped.
"""

from __future__ import annotations

from dashboards.saved_objects.fields import fields_used, query_fields
from dashboards.saved_objects.objects import MIGRATION_VERSIONS, Reference, SavedObject, to_ndjson
from dashboards.saved_objects.registry import saved_objects
from dashboards.saved_objects.settings import DashboardSettings

__all__ = [
    "MIGRATION_VERSIONS",
    "DashboardSettings",
    "Reference",
    "SavedObject",
    "fields_used",
    "query_fields",
    "saved_objects",
    "to_ndjson",
]
