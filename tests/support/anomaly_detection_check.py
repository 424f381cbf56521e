"""Offline checks of an Anomaly Detection ``POST _plugins/_anomaly_detection/detectors`` body.

The OpenSearch REST API spec does not cover the Anomaly Detection plugin, so these rules are written
from the plugin's documented detector fields, "Create anomaly detector" in
https://docs.opensearch.org/latest/observing-your-data/ad/api/ (the options table: ``name``,
``time_field``, ``indices``, ``feature_attributes`` and ``detection_interval`` required; ``description``,
``filter_query``, ``window_delay``, ``category_field`` (at most two), ``shingle_size``, ``result_index``
optional), plus the later optional fields the same page describes for newer versions (imputation,
rules, custom result index lifecycle) and the limits of the plugin's ``AnomalyDetector`` model (shingle
size 1-60, interval > 0, ``Minutes`` periods, category fields of type keyword or ip).

A feature's ``aggregation_query`` holds exactly one aggregation, a single-value metric (the plugin reads
one number per interval); it is validated against the spec's ``AggregationContainer`` in strict mode.
Each function returns ``list[str]``; empty means accepted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from tests.support.opensearch_spec import SpecValidator, mapping_field_rules, spec_validator

REQUIRED: Final = frozenset({"name", "time_field", "indices", "feature_attributes", "detection_interval"})
OPTIONAL: Final = frozenset(
    {
        "description",
        "filter_query",
        "window_delay",
        "category_field",
        "shingle_size",
        "result_index",
        "ui_metadata",
        "imputation_option",
        "rules",
        "result_index_min_size",
        "result_index_min_age",
        "result_index_ttl",
        "flatten_custom_result_index",
        "history",
    }
)
FEATURE_KEYS: Final = frozenset({"feature_id", "feature_name", "feature_enabled", "aggregation_query"})
SINGLE_VALUE_METRICS: Final = frozenset({"avg", "sum", "min", "max", "value_count", "cardinality"})
# The spec leaves metric aggregation bodies open (unevaluatedProperties: true), so a typo passes it;
# these are the options the metric aggregations take (cardinality also precision_threshold).
METRIC_OPTIONS: Final = frozenset({"field", "script", "missing", "format", "precision_threshold"})
CATEGORY_TYPES: Final = frozenset({"keyword", "ip"})
MAX_SHINGLE_SIZE: Final = 60
MAX_CATEGORY_FIELDS: Final = 2


def detector_rules(
    body: object, mappings: Mapping[str, Any], *, validator: SpecValidator | None = None
) -> list[str]:
    """Every documented rule the body breaks, with ``mappings`` (the index template's) for field checks."""
    if not isinstance(body, Mapping):
        return ["/: a detector must be a JSON object"]
    checker = validator or spec_validator()
    errors = [f"/{key}: unknown detector field" for key in sorted(set(body) - REQUIRED - OPTIONAL)]
    errors += [f"/{key}: required" for key in sorted(REQUIRED - set(body))]
    if not isinstance(body.get("name"), str) or not body.get("name"):
        errors.append("/name: must be a non-empty string")
    indices = body.get("indices")
    if not isinstance(indices, list) or not indices or not all(isinstance(i, str) for i in indices):
        errors.append("/indices: must be a non-empty list of index names or patterns")
    errors += _time_field(body.get("time_field"), mappings)
    for key in ("detection_interval", "window_delay"):
        if key in body:
            errors += _period(body[key], f"/{key}", allow_zero=key == "window_delay")
    shingle = body.get("shingle_size", 8)
    if not isinstance(shingle, int) or isinstance(shingle, bool) or not 1 <= shingle <= MAX_SHINGLE_SIZE:
        errors.append(f"/shingle_size: must be a whole number from 1 to {MAX_SHINGLE_SIZE}")
    if "filter_query" in body:
        errors += [
            f"/filter_query{e}"
            for e in checker.component("_common.query_dsl___QueryContainer", body["filter_query"])
        ]
    errors += _categories(body.get("category_field"), mappings)
    errors += _features(body.get("feature_attributes"), mappings, checker)
    return errors


def _time_field(field: object, mappings: Mapping[str, Any]) -> list[str]:
    if not isinstance(field, str):
        return ["/time_field: must be a field name"]
    node = _node(mappings, field)
    if node is None or node.get("type") not in ("date", "date_nanos"):
        return [f"/time_field: {field!r} is not a date field of the mapping"]
    return []


def _period(value: object, where: str, *, allow_zero: bool) -> list[str]:
    period = value.get("period") if isinstance(value, Mapping) else None
    if not isinstance(value, Mapping) or set(value) != {"period"} or not isinstance(period, Mapping):
        return [f"{where}: must be {{'period': {{'interval': N, 'unit': 'Minutes'}}}}"]
    errors = [f"{where}/period/{k}: unknown field" for k in sorted(set(period) - {"interval", "unit"})]
    interval = period.get("interval")
    if not isinstance(interval, int) or isinstance(interval, bool) or interval < (0 if allow_zero else 1):
        errors.append(f"{where}/period/interval: must be a whole number >= {0 if allow_zero else 1}")
    if period.get("unit") != "Minutes":
        errors.append(
            f"{where}/period/unit: the plugin reads intervals in Minutes, not {period.get('unit')!r}"
        )
    return errors


def _categories(fields: object, mappings: Mapping[str, Any]) -> list[str]:
    if fields is None:
        return []
    if not isinstance(fields, list) or not 1 <= len(fields) <= MAX_CATEGORY_FIELDS:
        return [f"/category_field: must list 1 to {MAX_CATEGORY_FIELDS} field names"]
    errors = []
    for i, field in enumerate(fields):
        node = _node(mappings, field) if isinstance(field, str) else None
        if node is None or node.get("type") not in CATEGORY_TYPES:
            errors.append(f"/category_field/{i}: {field!r} is not a keyword or ip field of the mapping")
    return errors


def _features(features: object, mappings: Mapping[str, Any], checker: SpecValidator) -> list[str]:
    if not isinstance(features, list) or not features:
        return ["/feature_attributes: must list at least one feature"]
    errors: list[str] = []
    names = [f.get("feature_name") for f in features if isinstance(f, Mapping)]
    if len(set(names)) != len(names):
        errors.append("/feature_attributes: feature names must be unique")
    for i, feature in enumerate(features):
        where = f"/feature_attributes/{i}"
        if not isinstance(feature, Mapping):
            errors.append(f"{where}: must be an object")
            continue
        errors += [f"{where}/{k}: unknown feature field" for k in sorted(set(feature) - FEATURE_KEYS)]
        if not isinstance(feature.get("feature_name"), str) or not isinstance(
            feature.get("feature_enabled"), bool
        ):
            errors.append(f"{where}: needs a feature_name string and a feature_enabled boolean")
        query = feature.get("aggregation_query")
        if not isinstance(query, Mapping) or len(query) != 1:
            errors.append(f"{where}/aggregation_query: must hold exactly one named aggregation")
            continue
        ((name, aggregation),) = query.items()
        kinds = set(aggregation) if isinstance(aggregation, Mapping) else set()
        if len(kinds) != 1 or not kinds <= SINGLE_VALUE_METRICS:
            errors.append(f"{where}/aggregation_query/{name}: must be one of {sorted(SINGLE_VALUE_METRICS)}")
            continue
        spec = checker.component("_common.aggregations___AggregationContainer", aggregation)
        errors += [f"{where}/aggregation_query/{name}{e}" for e in spec]
        options = next(iter(aggregation.values()))
        unknown = (
            sorted(set(options) - METRIC_OPTIONS) if isinstance(options, Mapping) else ["(not an object)"]
        )
        errors += [f"{where}/aggregation_query/{name}: unknown metric option {k!r}" for k in unknown]
        if isinstance(options, Mapping) and ("field" in options) == ("script" in options):
            errors.append(f"{where}/aggregation_query/{name}: needs exactly one of field or script")
        field = options.get("field") if isinstance(options, Mapping) else None
        if isinstance(field, str):
            errors += mapping_field_rules(mappings, [field], aggregatable=True)
    return errors


def _node(mappings: Mapping[str, Any], field: str) -> Mapping[str, Any] | None:
    node: Any = {"properties": mappings.get("properties", mappings)}
    for part in field.split("."):
        node = (node.get("properties") or {}).get(part) if isinstance(node, Mapping) else None
    return node if isinstance(node, Mapping) else None
