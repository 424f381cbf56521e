"""The one home of the JSON-in-JSON encoding: builders from ``model.py`` to saved objects.

``visState``, ``uiStateJSON``, ``panelsJSON``, ``optionsJSON`` and ``searchSourceJSON`` are JSON text
inside JSON; Dashboards never validates them on import and only fails when it renders, so their shapes
are written once here, after real exports (``reference/opensearch-validation.md`` §4.2).
"""

from __future__ import annotations

from typing import Final

from dashboards.saved_objects.model import (
    Dashboard,
    Metric,
    OverTime,
    SavedSearch,
    Terms,
    TopTerms,
    Visualization,
)
from dashboards.saved_objects.objects import INDEX_REF_NAME, ObjectType, Reference, SavedObject, encode
from dashboards.saved_objects.settings import DashboardSettings

Json = dict[str, object]

PANEL_VERSION: Final = "2.11.0"  # the Dashboards version that lays the panels out as written
_COUNT: Final = "1"  # id of the count agg every chart plots; terms order their buckets by it


def _search_source(query: str, *, with_index: bool) -> Json:
    source: Json = {"query": {"query": query, "language": "kuery"}, "filter": []}
    if with_index:
        source["indexRefName"] = INDEX_REF_NAME
    return {"searchSourceJSON": encode(source)}


def _index_ref(settings: DashboardSettings) -> Reference:
    return Reference(INDEX_REF_NAME, "index-pattern", settings.index_pattern_id)


def _count(label: str) -> Json:
    return {
        "id": _COUNT,
        "enabled": True,
        "type": "count",
        "schema": "metric",
        "params": {"customLabel": label},
    }


def _terms(agg_id: int, schema: str, terms: Terms) -> Json:
    params: Json = {
        "field": terms.field,
        "orderBy": _COUNT,
        "order": "desc",
        "size": terms.size,
        "otherBucket": False,
        "otherBucketLabel": "Other",
        "missingBucket": terms.missing is not None,
        "missingBucketLabel": terms.missing or "Missing",
    }
    if terms.label:
        params["customLabel"] = terms.label
    if terms.include:
        params["include"] = terms.include
    return {"id": str(agg_id), "enabled": True, "type": "terms", "schema": schema, "params": params}


def _date_histogram(field: str) -> Json:
    params: Json = {
        "field": field,
        "interval": "auto",
        "min_doc_count": 1,
        "extended_bounds": {},
        "drop_partials": False,
        "scaleMetricValues": False,
        "useNormalizedOpenSearchInterval": True,
    }
    return {"id": "2", "enabled": True, "type": "date_histogram", "schema": "segment", "params": params}


def _axes(series: str, *, horizontal: bool, stacked: bool) -> Json:
    category, value = ("left", "bottom") if horizontal else ("bottom", "left")
    return {
        "type": series,
        "grid": {"categoryLines": False},
        "categoryAxes": [
            {
                "id": "CategoryAxis-1",
                "type": "category",
                "position": category,
                "show": True,
                "style": {},
                "scale": {"type": "linear"},
                "labels": {"show": True, "filter": not horizontal, "truncate": 100},
                "title": {},
            }
        ],
        "valueAxes": [
            {
                "id": "ValueAxis-1",
                "name": f"{value.capitalize()}Axis-1",
                "type": "value",
                "position": value,
                "show": True,
                "style": {},
                "scale": {"type": "linear", "mode": "normal"},
                "labels": {"show": True, "rotate": 0, "filter": False, "truncate": 100},
                "title": {"text": "Requests"},
            }
        ],
        "seriesParams": [
            {
                "show": True,
                "type": series,
                "mode": "stacked" if stacked else "normal",
                "data": {"label": "Requests", "id": _COUNT},
                "valueAxis": "ValueAxis-1",
                "drawLinesBetweenPoints": True,
                "lineWidth": 2,
                "showCircles": True,
            }
        ],
        "addTooltip": True,
        "addLegend": True,
        "legendPosition": "right",
        "times": [],
        "addTimeMarker": False,
        "labels": {"show": False},
        "thresholdLine": {"show": False, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
    }


_TABLE: Final[Json] = {
    "perPage": 10,
    "showPartialRows": False,
    "showMetricsAtAllLevels": False,
    "showTotal": False,
    "totalFunc": "sum",
    "percentageCol": "",
    "sort": {"columnIndex": None, "direction": None},
}
_PIE: Final[Json] = {
    "type": "pie",
    "addTooltip": True,
    "addLegend": True,
    "legendPosition": "right",
    "isDonut": True,
    "labels": {"show": False, "values": True, "last_level": True, "truncate": 100},
}
_METRIC: Final[Json] = {
    "type": "metric",
    "addTooltip": True,
    "addLegend": False,
    "metric": {
        "percentageMode": False,
        "useRanges": False,
        "colorSchema": "Green to Red",
        "metricColorMode": "None",
        "colorsRange": [{"from": 0, "to": 10000}],
        "labels": {"show": True},
        "invertColors": False,
        "style": {"bgFill": "#000", "bgColor": False, "labelColor": False, "subText": "", "fontSize": 60},
    },
}


def vis_state(vis: Visualization, settings: DashboardSettings) -> Json:
    """The decoded ``visState`` of a visualization: its chart type, chart params and aggregations."""
    if isinstance(vis, Metric):
        kind, params, aggs = "metric", _METRIC, [_count(vis.label)]
    elif isinstance(vis, OverTime):
        kind = vis.chart
        params = _axes(vis.chart, horizontal=False, stacked=vis.chart != "line" and vis.split is not None)
        aggs = [_count("Requests"), _date_histogram(settings.time_field)]
        if vis.split:
            aggs.append(_terms(3, "group", vis.split))
    else:
        kind, params, aggs = vis.chart, _terms_chart_params(vis), [_count("Requests")]
        for n, terms in enumerate(vis.rows):
            aggs.append(_terms(n + 2, _terms_schema(vis, n), terms))
    return {"title": vis.title, "type": kind, "params": params, "aggs": aggs}


def _terms_chart_params(vis: TopTerms) -> Json:
    if vis.chart == "table":
        return _TABLE
    if vis.chart == "pie":
        return _PIE
    return _axes("histogram", horizontal=True, stacked=len(vis.rows) > 1)


def _terms_schema(vis: TopTerms, n: int) -> str:
    """A table's rows are ``bucket``s, a pie's rings ``segment``s, a bar's second field its ``group``."""
    if vis.chart == "table":
        return "bucket"
    return "group" if vis.chart == "horizontal_bar" and n > 0 else "segment"


def visualization(vis: Visualization, settings: DashboardSettings) -> SavedObject:
    """A visualization saved object reading the index pattern."""
    attributes: Json = {
        "title": vis.title,
        "description": vis.description,
        "version": 1,
        "uiStateJSON": encode({}),
        "visState": encode(vis_state(vis, settings)),
        "kibanaSavedObjectMeta": _search_source(vis.query, with_index=True),
    }
    return SavedObject("visualization", vis.id, attributes, (_index_ref(settings),))


def search(saved: SavedSearch, settings: DashboardSettings) -> SavedObject:
    """A saved search (Discover): raw events with chosen columns and sort."""
    attributes: Json = {
        "title": saved.title,
        "description": saved.description,
        "version": 1,
        "hits": 0,
        "columns": list(saved.columns),
        "sort": [[field, direction] for field, direction in saved.sort],
        "kibanaSavedObjectMeta": _search_source(saved.query, with_index=True),
    }
    return SavedObject("search", saved.id, attributes, (_index_ref(settings),))


def dashboard(board: Dashboard) -> SavedObject:
    """A dashboard: its panels placed on the grid, each pointing at its content through ``panel_N``."""
    panels: list[Json] = []
    references: list[Reference] = []
    for n, placed in enumerate(board.layout()):
        index = str(n + 1)
        grid = {"x": placed.x, "y": placed.y, "w": placed.panel.w, "h": placed.panel.h, "i": index}
        panels.append(
            {
                "version": PANEL_VERSION,
                "gridData": grid,
                "panelIndex": index,
                "embeddableConfig": {},
                "panelRefName": f"panel_{n}",
            }
        )
        kind: ObjectType = "search" if isinstance(placed.panel.content, SavedSearch) else "visualization"
        references.append(Reference(f"panel_{n}", kind, placed.panel.content.id))
    attributes: Json = {
        "title": board.title,
        "description": board.description,
        "version": 1,
        "hits": 0,
        "timeRestore": board.time_from is not None,
        "optionsJSON": encode({"useMargins": True, "hidePanelTitles": False}),
        "panelsJSON": encode(panels),
        "kibanaSavedObjectMeta": _search_source("", with_index=False),
    }
    if board.time_from is not None:
        attributes |= {
            "timeFrom": board.time_from,
            "timeTo": board.time_to,
            "refreshInterval": {"pause": True, "value": 0},
        }
    return SavedObject("dashboard", board.id, attributes, tuple(references))
