"""Offline checks of OpenSearch request bodies: the official REST API spec in strict mode, plus project rules.

No cluster runs on development machines, so every body waflens sends is validated against the merged
OpenAPI spec in ``../shared/opensearch-openapi/`` (see ``reference/opensearch-validation.md``):

* :class:`SpecValidator` closes the published (open) schemas with ``unevaluatedProperties: false`` at
  object-typed usage sites, using the refined rule of §3.2 / Appendix A, so unknown keys and typos fail;
* :func:`spec_validator` returns one cached validator per process (load + close + register ~0.2 s);
* the ``*_rules`` functions cover what the spec leaves open (§3.5, §5.2-5.4): setting names, the ISM
  state graph and transition conditions, DLS strings, ``masked_fields``, action groups, monitor coherence
  and field names used by queries. Each returns a list of messages; empty means accepted.

Every check returns ``list[str]`` so a test reads ``assert check(body) == []`` and a failure prints the
reasons.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs

from tests.support.shared import require_shared, shared_dir

SPEC_URI = "urn:opensearch-openapi"
SPEC_FILE = "opensearch-openapi.json"
ALERTING_SPEC_FILE = "opensearch-openapi.alerting-pr1186.json"
WARNING = "warning: "  # prefix of heuristic findings (setting-name typos) among the returned messages
PLAIN = "(plain mode) "  # prefix of the plain-mode diagnosis lines appended to strict-mode errors

_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_MAX_MESSAGE = 400  # oneOf messages embed the whole failing instance; keep output readable
_NON_STRUCTURAL = ("type", "description", "title")
_COMPOSITION = ("allOf", "oneOf", "anyOf")
_DECLARES = ("properties", "patternProperties", "additionalProperties", "unevaluatedProperties", "$ref")

JSON = dict[str, Any]


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


class _Closer:
    """Add ``unevaluatedProperties: false`` at object-typed usage sites (refined rule, §3.2)."""

    def __init__(self, spec: JSON) -> None:
        self.spec = spec
        self.schemas: JSON = spec["components"]["schemas"]

    def run(self) -> None:
        for schema in self.schemas.values():
            self.walk(schema, top=True, in_allof=False)
        for request_body in self.spec["components"].get("requestBodies", {}).values():
            for media in request_body.get("content", {}).values():
                self.walk(media.get("schema"), top=False, in_allof=False)

    def _target(self, ref: str) -> Any:
        return self.schemas.get(ref.rsplit("/", 1)[-1])

    def types(self, schema: Any, seen: frozenset[str] = frozenset()) -> set[str] | None:
        """The JSON types an instance of ``schema`` can have, or None when unknown."""
        if not isinstance(schema, dict):
            return None
        if "type" in schema:
            declared = schema["type"]
            return set(declared) if isinstance(declared, list) else {declared}
        if "$ref" in schema:
            ref = schema["$ref"]
            return None if ref in seen else self.types(self._target(ref), seen | {ref})
        for keyword in ("oneOf", "anyOf"):
            if keyword in schema:
                return self._union(schema[keyword], seen)
        for member in schema.get("allOf", []):
            member_types = self.types(member, seen)
            if member_types is not None:
                return member_types
        return {"object"} if ("properties" in schema or "additionalProperties" in schema) else None

    def _union(self, branches: list[Any], seen: frozenset[str]) -> set[str] | None:
        union: set[str] = set()
        for branch in branches:
            branch_types = self.types(branch, seen)
            if branch_types is None:
                return None
            union |= branch_types
        return union

    def freeform(self, schema: Any, seen: frozenset[str] = frozenset()) -> bool:
        """True for deliberately open maps: object schemas that declare nothing, or refs to one."""
        if not isinstance(schema, dict):
            return False
        ref = schema.get("$ref")
        if ref is not None and ref not in seen and self.freeform(self._target(ref), seen | {ref}):
            return True
        declares = any(k in schema for k in (*_DECLARES, *_COMPOSITION))
        if not declares and self.types(schema) in ({"object"}, None):
            return True
        return any(self.freeform(branch, seen) for k in _COMPOSITION for branch in schema.get(k, []))

    def walk(self, schema: Any, *, top: bool, in_allof: bool) -> None:
        if not isinstance(schema, dict):
            return
        for keyword in ("properties", "patternProperties"):  # a new instance: reset the allOf context
            for child in (schema.get(keyword) or {}).values():
                self.walk(child, top=False, in_allof=False)
        for keyword in ("items", "additionalProperties", "unevaluatedProperties"):
            if isinstance(schema.get(keyword), dict):
                self.walk(schema[keyword], top=False, in_allof=False)
        for keyword in ("not", "if", "then", "else"):  # the same instance
            if isinstance(schema.get(keyword), dict):
                self.walk(schema[keyword], top=False, in_allof=in_allof)
        for keyword in _COMPOSITION:
            for child in schema.get(keyword, []):
                self.walk(child, top=False, in_allof=in_allof or keyword == "allOf")
        if top or in_allof or "unevaluatedProperties" in schema or "additionalProperties" in schema:
            return
        if not [k for k in schema if k not in _NON_STRUCTURAL and not k.startswith("x-")]:
            return
        if self.types(schema) == {"object"} and not self.freeform(schema):
            schema["unevaluatedProperties"] = False


def _format(path: Iterable[str | int], message: str) -> str:
    if len(message) > _MAX_MESSAGE:
        half = _MAX_MESSAGE // 2
        message = f"{message[:half]} … {message[-half:]}"
    return "/" + "/".join(str(p) for p in path) + f": {message}"


def _resolve_pointer(document: Any, fragment: str) -> Any:
    node = document
    for token in fragment.lstrip("/").split("/") if fragment.strip("/") else []:
        key = token.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


_Error = jsonschema_rs.ValidationError
_Path = list[str | int]
_CAUSE = " — cause: "


def _json_types(instance: object) -> set[str]:
    if isinstance(instance, bool):
        return {"boolean"}
    if isinstance(instance, int):
        return {"integer", "number"}
    names = {dict: "object", list: "array", str: "string", float: "number", type(None): "null"}
    return {names.get(type(instance), "object")}


def _unexpected_keys(message: str, instance: JSON) -> JSON:
    """The members of ``instance`` an "Unevaluated properties" message names (all of them if unparsable)."""
    match = re.search(r"\('(.*)' (?:was|were) unexpected\)", message)
    if match is None:
        return instance
    names = set(match.group(1).split("', '"))
    return {k: v for k, v in instance.items() if k in names}


_Found = tuple[_Error, _Path, str] | str | None  # (cause, its path, branch label) or a final message


class _Engine:
    """One registered copy of the spec (strict or plain) with its compiled validators.

    Only the *first* error is collected, via ``validate()``: jsonschema-rs 0.60's ``iter_errors`` (and
    ``evaluate``) gather every failing ``oneOf`` branch under every ``unevaluatedProperties``, which is
    exponential on this spec; one mapping-type typo in a realistic template took 92 s and 12 GB there,
    while ``is_valid``/``validate`` take milliseconds. To stay readable, a first error that is only a
    symptom (a failed ``oneOf``, or "unevaluated properties" caused by a failing child) is followed down
    to its cause: the failing defined property, or the ``oneOf`` branch that got furthest.
    """

    _MAX_DEPTH = 12

    def __init__(self, spec: JSON, *, strict: bool) -> None:
        self.spec = spec
        self.strict = strict
        self._registry = jsonschema_rs.Registry([(SPEC_URI, spec)], draft=jsonschema_rs.Draft202012)
        self._validators: dict[str, Any] = {}

    def errors(self, pointer: str, instance: object) -> list[str]:
        error = self._first_error(pointer, instance)
        if error is None:
            return []
        path: _Path = list(error.instance_path)
        text = _format(path, error.message)
        try:
            cause = self._cause(error, path, depth=0)
        except (KeyError, IndexError, ValueError, TypeError):  # diagnosis is best effort, never fatal
            cause = None
        return [f"{text}{_CAUSE}{cause}" if cause and cause != text else text]

    def _first_error(self, pointer: str, instance: object) -> _Error | None:
        validator = self._validator(pointer)
        if validator.is_valid(instance):
            return None
        try:
            validator.validate(instance)
        except jsonschema_rs.ValidationError as error:
            return error
        return None

    # -- following a symptom to its cause ----------------------------------------------------------

    def _cause(self, error: _Error, path: _Path, depth: int) -> str | None:
        location = error.absolute_keyword_location or ""
        base, _, fragment = location.partition("#")
        if depth >= self._MAX_DEPTH or base != SPEC_URI:
            return None
        kind = error.kind.name
        found: _Found = None
        if kind in ("oneOf", "anyOf"):
            found = self._closest_branch(f"#{fragment}", error.instance, path)
        elif kind == "unevaluatedProperties" and isinstance(error.instance, dict):
            parent = "#" + fragment.rsplit("/", 1)[0]
            unexpected = _unexpected_keys(error.message, error.instance)
            found = self._failing_property(parent, unexpected, path)
            if found is None and (choice := self._choice(parent, hops=0)) is not None:
                found = self._closest_branch(choice, error.instance, path)
        if found is None or isinstance(found, str):
            return found
        sub, sub_path, label = found
        where = f" (in {label!r})" if label else ""
        return self._cause(sub, sub_path, depth + 1) or _format(sub_path, sub.message) + where

    def _failing_property(self, parent: str, instance: JSON, path: _Path) -> tuple[_Error, _Path, str] | None:
        """A key reported as unevaluated that the schema defines but whose value fails: the real error."""
        for key, value in instance.items():
            pointer = self._property(parent, key, hops=0)
            sub = self._first_error(pointer, value) if pointer else None
            if sub is not None:
                return sub, [*path, key, *sub.instance_path], ""
        return None

    def _property(self, pointer: str, key: str, hops: int) -> str | None:
        """Pointer of the schema that defines property ``key`` under ``pointer`` (via $ref / allOf)."""
        node = _resolve_pointer(self.spec, pointer[1:])
        if hops > 8 or not isinstance(node, dict):
            return None
        if key in (node.get("properties") or {}):
            return f"{pointer}/properties/{_escape(key)}"
        candidates = [node["$ref"]] if str(node.get("$ref", "")).startswith("#") else []
        candidates += [f"{pointer}/allOf/{i}" for i in range(len(node.get("allOf", [])))]
        return next((p for c in candidates if (p := self._property(c, key, hops + 1))), None)

    def _choice(self, pointer: str, hops: int) -> str | None:
        """Pointer of the ``oneOf``/``anyOf`` that decides the shape under ``pointer``, if any."""
        node = _resolve_pointer(self.spec, pointer[1:])
        if hops > 8 or not isinstance(node, dict):
            return None
        for keyword in ("oneOf", "anyOf"):
            if keyword in node:
                return f"{pointer}/{keyword}"
        candidates = [node["$ref"]] if str(node.get("$ref", "")).startswith("#") else []
        candidates += [f"{pointer}/allOf/{i}" for i in range(len(node.get("allOf", [])))]
        return next((p for c in candidates if (p := self._choice(c, hops + 1))), None)

    def _closest_branch(self, choice: str, instance: object, path: _Path) -> _Found:
        """The branch of ``choice`` whose first error got furthest, or a summary when none fits.

        Branches ruled out by the instance itself (a required key it lacks, or a present key whose
        value the branch pins with ``enum``/``const``, like a mapping's ``type``) are not candidates.
        """
        branches = _resolve_pointer(self.spec, choice[1:])
        pointers = [f"{choice}/{i}" for i in range(len(branches))]
        verdicts = [self._excluded(p, instance) for p in pointers]
        candidates = [i for i, verdict in enumerate(verdicts) if verdict is None]
        if not candidates and isinstance(instance, dict) and "enum" in verdicts:  # e.g. mapping "type"
            return self._no_branch_fits(pointers, instance, path)
        if not candidates and isinstance(instance, dict) and set(verdicts) == {"required"}:
            return self._no_tag_fits(pointers, instance, path)  # e.g. an unknown aggregation name
        best: tuple[tuple[int, int], int, _Error] | None = None
        for i in candidates or range(len(branches)):
            sub = self._first_error(pointers[i], instance)
            if sub is None:  # a branch accepts it: the failure is ambiguity, not a mistake inside one
                return None
            rank = (len(sub.instance_path), 1 if sub.kind.name == "required" else 2)
            if best is None or rank > best[0]:
                best = (rank, i, sub)
        if best is None:
            return None
        _, index, sub = best
        branch = branches[index]
        label = branch.get("title") or str(branch.get("$ref", "")).rsplit("___", 1)[-1]
        return sub, [*path, *sub.instance_path], label

    def _excluded(self, branch: str, instance: object) -> str | None:
        json_types = _Closer(self.spec).types(_resolve_pointer(self.spec, branch[1:]))
        if json_types is not None and not json_types & _json_types(instance):
            return "type"
        if not isinstance(instance, dict):
            return None
        for key, value in instance.items():
            pinned = self._pinned_values(self._property(branch, key, hops=0))
            if pinned is not None and value not in pinned:
                return "enum"
        if any(key not in instance for key in self._required(branch, hops=0)):
            return "required"
        return None

    def _required(self, pointer: str, hops: int) -> set[str]:
        node = _resolve_pointer(self.spec, pointer[1:])
        if hops > 8 or not isinstance(node, dict):
            return set()
        required = set(node.get("required", []))
        if str(node.get("$ref", "")).startswith("#"):
            required |= self._required(node["$ref"], hops + 1)
        for i in range(len(node.get("allOf", []))):
            required |= self._required(f"{pointer}/allOf/{i}", hops + 1)
        return required

    def _pinned_values(self, pointer: str | None) -> list[Any] | None:
        for _ in range(4):
            node = _resolve_pointer(self.spec, pointer[1:]) if pointer else None
            if not isinstance(node, dict):
                return None
            if "enum" in node or "const" in node:
                return list(node["enum"]) if "enum" in node else [node["const"]]
            pointer = node.get("$ref") if str(node.get("$ref", "")).startswith("#") else None
        return None

    def _no_tag_fits(self, pointers: list[str], instance: JSON, path: _Path) -> str:
        tags = sorted({key for p in pointers for key in self._required(p, hops=0)})
        hints = [f"{key!r}{_hint(key, tags)}" for key in instance if key not in tags and _close(key, tags)]
        shown = ", ".join(hints) if hints else f"keys {sorted(instance)}"
        return _format(path, f"matches none of the {len(pointers)} alternatives: {shown}")

    def _no_branch_fits(self, pointers: list[str], instance: JSON, path: _Path) -> str:
        for key, value in instance.items():
            allowed: list[Any] = []
            for pointer in pointers:
                pinned = self._pinned_values(self._property(pointer, key, hops=0)) or []
                allowed += [v for v in pinned if v not in allowed]
            if allowed and value not in allowed:
                shown = ", ".join(map(str, allowed)) if len(allowed) <= 8 else f"one of {len(allowed)} values"
                hint = _hint(str(value), map(str, allowed))
                message = f"{json.dumps(value)} matches no branch (allowed: {shown}){hint}"
                return _format([*path, key], message)
        return _format(path, "matches no branch")

    def _validator(self, pointer: str) -> Any:
        validator = self._validators.get(pointer)
        if validator is None:
            wrapper: JSON = {"$schema": _DRAFT_2020_12, "$ref": SPEC_URI + pointer}
            component = pointer.removeprefix("#/components/schemas/")
            if self.strict and component != pointer and "/" not in component:  # a component used on its own
                closer, target = _Closer(self.spec), {"$ref": pointer}
                if closer.types(target) == {"object"} and not closer.freeform(target):
                    wrapper["unevaluatedProperties"] = False
            validator = jsonschema_rs.validator_for(wrapper, registry=self._registry, offline=True)
            self._validators[pointer] = validator
        return validator


class SpecValidator:
    """Validate request bodies against the merged OpenSearch OpenAPI spec.

    ``strict=True`` (the default, and what tests should use) rejects keys the spec does not define;
    its error lists also carry the plain-mode error, prefixed ``(plain mode)``, when it differs,
    because strict mode often reports a failed ``oneOf`` indirectly ("... was unexpected") while
    plain mode points into the branch. Each mode reports its first error (see :class:`_Engine`).
    """

    def __init__(self, path: Path, *, strict: bool = True) -> None:
        self.path = Path(path)
        self.strict = strict
        self._raw: JSON = json.loads(self.path.read_text(encoding="utf-8"))
        spec = self._raw
        if strict:
            spec = copy.deepcopy(self._raw)
            _Closer(spec).run()
        self.spec = spec
        self._engine = _Engine(spec, strict=strict)
        self._plain_engine: _Engine | None = None if strict else self._engine

    # -- spec-driven checks -------------------------------------------------------------------------

    def body(self, group: str, instance: object, ctype: str = "application/json") -> list[str]:
        """Errors of ``instance`` as the request body of operation group ``group`` (e.g. ``search``)."""
        request_bodies = self.spec["components"].get("requestBodies", {})
        if ctype not in request_bodies.get(group, {}).get("content", {}):
            close = difflib.get_close_matches(group, list(request_bodies), n=3)
            raise KeyError(
                f"no request body {group!r} with content type {ctype!r} in {self.path.name}; "
                f"close matches: {close}"
            )
        return self._check(
            f"#/components/requestBodies/{_escape(group)}/content/{_escape(ctype)}/schema", instance
        )

    def component(self, name: str, instance: object) -> list[str]:
        """Errors of ``instance`` against component schema ``name`` (``<category>___<Name>``)."""
        if name not in self.spec["components"]["schemas"]:
            close = difflib.get_close_matches(name, list(self.spec["components"]["schemas"]), n=3)
            raise KeyError(f"no component schema {name!r} in {self.path.name}; close matches: {close}")
        return self._check(f"#/components/schemas/{_escape(name)}", instance)

    def _check(self, pointer: str, instance: object) -> list[str]:
        errors = self._engine.errors(pointer, instance)
        if errors and self.strict:
            if self._plain_engine is None:
                self._plain_engine = _Engine(self._raw, strict=False)
            causes = {e.rpartition(_CAUSE)[2] for e in errors}
            errors += [
                f"{PLAIN}{e}"
                for e in self._plain_engine.errors(pointer, instance)
                if e.rpartition(_CAUSE)[2] not in causes
            ]
        return errors

    # -- _bulk ndjson -------------------------------------------------------------------------------

    def bulk_body(self, ndjson: bytes | str) -> list[str]:
        """Errors of a ``_bulk`` ndjson body, by line number (1-based).

        Each action line is checked strictly against ``_core.bulk___OperationContainer`` (the spec's
        whole-body schema lets any object through); ``index``/``create`` need one JSON-object source
        line, ``update`` one that is a valid ``_core.bulk___UpdateAction`` with ``doc`` or ``script``,
        ``delete`` none. The body must end with a newline, as the server requires.
        """
        try:
            text = ndjson.decode("utf-8") if isinstance(ndjson, bytes) else ndjson
        except UnicodeDecodeError as exc:
            return [f"body is not UTF-8: {exc}"]
        if not text:
            return ["body is empty"]
        errors: list[str] = []
        if not text.endswith("\n"):
            errors.append("body must end with a newline: the server rejects a _bulk body without it")
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        index = 0
        while index < len(lines):
            index = self._bulk_item(lines, index, errors)
        return errors

    def _bulk_item(self, lines: list[str], index: int, errors: list[str]) -> int:
        """Check the action at ``lines[index]`` and its source line; return the next action's index."""
        lineno = index + 1
        action, problem = _parse_object(lines[index])
        if action is None:
            errors.append(f"line {lineno}: action line {problem}")
            return index + 1
        errors += [f"line {lineno}: {e}" for e in self.component("_core.bulk___OperationContainer", action)]
        kind = next(iter(action)) if len(action) == 1 and next(iter(action)) in _BULK_ACTIONS else None
        has_next = index + 1 < len(lines)
        if kind == "delete":
            return _after_delete(lines, index, errors)
        if kind is None:  # unknown action: assume a source follows unless the next line is an action
            return index + 2 if has_next and not self._is_action(lines[index + 1]) else index + 1
        if not has_next:
            errors.append(f"line {lineno}: '{kind}' action has no source line after it")
            return index + 1
        source, problem = _parse_object(lines[index + 1])
        if source is None:
            errors.append(f"line {lineno + 1}: source line of the '{kind}' on line {lineno} {problem}")
        elif self._is_action(lines[index + 1]):
            errors.append(
                f"line {lineno}: '{kind}' action has no source line "
                f"(line {lineno + 1} is another action line)"
            )
            return index + 1
        elif kind == "update":
            errors += [f"line {lineno + 1}: {e}" for e in self._update_source_errors(source)]
        return index + 2

    def _is_action(self, line: str) -> bool:
        obj, _ = _parse_object(line)
        return (
            obj is not None
            and len(obj) == 1
            and next(iter(obj)) in _BULK_ACTIONS
            and isinstance(next(iter(obj.values())), dict)
            and not self.component("_core.bulk___OperationContainer", obj)
        )

    def _update_source_errors(self, source: JSON) -> list[str]:
        errors = self.component("_core.bulk___UpdateAction", source)
        if "doc" not in source and "script" not in source:
            errors.append("/: update needs 'doc' or 'script' (server: 'script or doc is missing')")
        if "doc" in source and "script" in source:
            errors.append("/: update cannot have both 'doc' and 'script' (server: 'can't provide both')")
        return errors


_BULK_ACTIONS = frozenset({"index", "create", "update", "delete"})


def _after_delete(lines: list[str], index: int, errors: list[str]) -> int:
    """A delete has no source line: flag (and skip) a following line that is not an action."""
    following, _ = _parse_object(lines[index + 1]) if index + 1 < len(lines) else (None, "")
    if following is not None and not _BULK_ACTIONS & following.keys():
        errors.append(f"line {index + 2}: the 'delete' on line {index + 1} takes no source line")
        return index + 2
    return index + 1


def _parse_object(line: str) -> tuple[JSON | None, str]:
    if not line.strip():
        return None, "is blank (generated bodies must not contain blank lines)"
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, f"is not valid JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(value, dict):
        return None, f"is not a JSON object (got {type(value).__name__})"
    return value, ""


@cache  # functools.lru_cache(maxsize=None): one instance per flag per process
def spec_validator(alerting: bool = False) -> SpecValidator:
    """The process-wide strict validator; ``alerting=True`` adds the Alerting namespace (PR #1186).

    Fails in CI and skips locally when the shared spec folder is missing.
    """
    name = ALERTING_SPEC_FILE if alerting else SPEC_FILE
    return SpecValidator(require_shared(shared_dir() / "opensearch-openapi" / name))


# ======================================================================================================
# Project rules: what the spec leaves open (reference §3.5, §5.2-5.4)
# ======================================================================================================


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# The 47 values of ``type`` in ``_common.mapping___Property`` (checked against the spec by a unit test).
FIELD_TYPES = _words(
    """
    aggregate_metric_double alias binary boolean byte completion constant_keyword date date_nanos
    date_range double double_range flat_object float float_range geo_point geo_shape half_float
    histogram icu_collation_keyword integer integer_range ip ip_range join keyword knn_vector long
    long_range match_only_text murmur3 nested object percolator rank_feature rank_features scaled_float
    search_as_you_type semantic short text token_count unsigned_long version wildcard xy_point xy_shape
    """
)
NUMERIC_TYPES = _words(
    """
    byte double float half_float integer long scaled_float short unsigned_long
    """
)
AGGREGATABLE_TYPES = frozenset({"keyword", "ip", "date", "date_nanos", "boolean"} | NUMERIC_TYPES)

# Index settings waflens sets, without the optional ``index.`` prefix. Names close to one of these but
# not equal are reported as likely typos (the spec's settings map accepts any name).
KNOWN_SETTINGS = _words(
    """
    auto_expand_replicas codec hidden mapping.depth.limit mapping.field_name_length.limit
    mapping.ignore_malformed mapping.nested_fields.limit mapping.nested_objects.limit
    mapping.total_fields.limit max_result_window number_of_replicas number_of_shards
    plugins.index_state_management.rollover_alias query.default_field refresh_interval
    routing.allocation.total_shards_per_node translog.durability
    """
)
KNOWN_SETTING_PREFIXES = (
    "routing.allocation.require.",
    "routing.allocation.include.",
    "routing.allocation.exclude.",
)
_TYPO_CUTOFF = 0.88


def _close(word: str, candidates: Iterable[str]) -> list[str]:
    return difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.75)


def _hint(word: str, candidates: Iterable[str]) -> str:
    match = _close(word, candidates)
    return f" (did you mean {match[0]!r}?)" if match else ""


def _as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _duplicates(values: list[Any]) -> list[Any]:
    return sorted({v for v in values if v is not None and values.count(v) > 1}, key=str)


def _nest(prefix: str, errors: list[str]) -> list[str]:
    """Re-root spec errors of an embedded document (``/path: msg``) under ``prefix``."""
    nested = []
    for error in errors:
        tag = PLAIN if error.startswith(PLAIN) else ""
        bare = error.removeprefix(tag).replace(f"{_CAUSE}/", f"{_CAUSE}{prefix}/")
        nested.append(f"{tag}{prefix}{bare[1:] if bare.startswith('/:') else bare}")
    return nested


# -- index templates -----------------------------------------------------------------------------------


def index_template_rules(body: object) -> list[str]:
    """Project rules for a composable index template (``PUT _index_template/{name}``).

    ``index_patterns`` is required and non-empty (the server answers 400), ``template.mappings`` must be
    present (waflens never relies on dynamic mapping), every field ``type`` is one the server knows, and
    setting names close to a known setting are reported with the :data:`WARNING` prefix.
    """
    if not isinstance(body, Mapping):
        return ["/: an index template must be a JSON object"]
    errors: list[str] = []
    patterns = body.get("index_patterns")
    pattern_list = [patterns] if isinstance(patterns, str) else patterns
    if patterns is None:
        errors.append("/index_patterns: required (the server answers 400 'index_patterns is missing')")
    elif (
        not isinstance(pattern_list, list)
        or not pattern_list
        or not all(isinstance(p, str) and p.strip() for p in pattern_list)
    ):
        errors.append("/index_patterns: must be a non-empty list of non-empty strings")
    template = body.get("template")
    template = template if isinstance(template, Mapping) else {}
    mappings = template.get("mappings")
    if not isinstance(mappings, Mapping):
        errors.append("/template/mappings: required (fields must be mapped explicitly)")
    else:
        errors += _field_type_errors(mappings.get("properties"), "/template/mappings/properties")
    settings = template.get("settings")
    if isinstance(settings, Mapping):
        errors += [f"{WARNING}/template/settings: {w}" for w in settings_typo_warnings(settings)]
    return errors


def _field_type_errors(properties: object, where: str) -> list[str]:
    if properties is None:
        return []
    if not isinstance(properties, Mapping):
        return [f"{where}: must be an object of field mappings"]
    errors: list[str] = []
    for name, field in properties.items():
        path = f"{where}/{name}"
        if not isinstance(field, Mapping):
            errors.append(f"{path}: a field mapping must be an object")
            continue
        field_type = field.get("type")
        if field_type is None and "properties" not in field:
            errors.append(f"{path}: has neither 'type' nor 'properties' (keys: {sorted(field)})")
        elif field_type is not None and field_type not in FIELD_TYPES:
            hint = _hint(str(field_type), FIELD_TYPES)
            errors.append(f"{path}/type: unknown field type {field_type!r}{hint}")
        errors += _field_type_errors(field.get("properties"), f"{path}/properties")
        errors += _field_type_errors(field.get("fields"), f"{path}/fields")
    return errors


def _flat_setting_names(settings: Mapping[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if name in ("analysis", "index.analysis"):  # analyzer names are ours to choose
            continue
        if isinstance(value, Mapping):
            yield from _flat_setting_names(value, f"{name}.")
        else:
            yield name


def settings_typo_warnings(settings: Mapping[str, Any]) -> list[str]:
    """Setting names (flat ``index.x.y`` or nested ``{"index": {"x": ...}}``) that look like typos."""
    warnings: list[str] = []
    roots = [p.rstrip(".") for p in KNOWN_SETTING_PREFIXES]
    for full_name in _flat_setting_names(settings):
        name = full_name.removeprefix("index.")
        if name in KNOWN_SETTINGS or name.startswith(KNOWN_SETTING_PREFIXES):
            continue
        exact = difflib.get_close_matches(name, list(KNOWN_SETTINGS), n=1, cutoff=_TYPO_CUTOFF)
        parent = name.rsplit(".", 1)[0]
        prefix = difflib.get_close_matches(parent, roots, n=1, cutoff=_TYPO_CUTOFF) if "." in name else []
        if exact:
            warnings.append(f"setting {full_name!r} looks like a typo of {exact[0]!r}")
        elif prefix:
            warnings.append(f"setting {full_name!r} looks like a typo of {prefix[0]!r}.*")
    return warnings


# -- ISM policies --------------------------------------------------------------------------------------

ISM_CONDITIONS = _words(
    """
    cron min_doc_count min_index_age min_rollover_age min_size min_state_age no_alias
    """
)
_TIME_VALUE = re.compile(r"^\s*\d+\s*(nanos|micros|ms|s|m|h|d)\s*$", re.IGNORECASE)
_BYTE_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb?|mb?|gb?|tb?|pb?)\s*$", re.IGNORECASE)


def ism_policy_rules(body: object) -> list[str]:
    """Project rules for ``PUT _plugins/_ism/policies/{id}`` taken from the ISM parser (§5.3)."""
    if not isinstance(body, Mapping) or not isinstance(body.get("policy"), Mapping):
        return ["/: the body must be {\"policy\": {...}} (the 'policy' envelope is missing)"]
    policy: Mapping[str, Any] = body["policy"]
    errors = [
        f"/policy/{key}: required by the ISM parser"
        for key in ("description", "default_state")
        if not isinstance(policy.get(key), str)
    ]
    states = policy.get("states")
    if not isinstance(states, list) or not states:
        return [*errors, "/policy/states: must be a non-empty list of states"]
    names = [s.get("name") for s in states if isinstance(s, Mapping)]
    errors += [f"/policy/states: duplicate state name {n!r}" for n in _duplicates(names)]
    default_state = policy.get("default_state")
    if isinstance(default_state, str) and default_state not in names:
        hint = _hint(default_state, map(str, names))
        errors.append(f"/policy/default_state: {default_state!r} is not a state{hint}")
    for i, state in enumerate(states):
        where = f"/policy/states/{i}"
        if not isinstance(state, Mapping) or not isinstance(state.get("name"), str):
            errors.append(f"{where}: a state must be an object with a string 'name'")
            continue
        errors += _ism_state_errors(state, names, where)
    return errors


def _ism_state_errors(state: Mapping[str, Any], names: list[Any], where: str) -> list[str]:
    errors: list[str] = []
    actions = _as_list(state.get("actions"))
    transitions = _as_list(state.get("transitions"))
    delete_at = [i for i, a in enumerate(actions) if isinstance(a, Mapping) and "delete" in a]
    if delete_at and delete_at[0] != len(actions) - 1:
        errors.append(f"{where}/actions/{delete_at[0]}: 'delete' must be the last action of its state")
    if delete_at and transitions:
        errors.append(f"{where}/transitions: a state that deletes the index cannot have transitions")
    for j, transition in enumerate(transitions):
        at = f"{where}/transitions/{j}"
        if not isinstance(transition, Mapping):
            errors.append(f"{at}: a transition must be an object")
            continue
        target = transition.get("state_name")
        if target not in names:
            errors.append(f"{at}/state_name: {target!r} is not a state{_hint(str(target), map(str, names))}")
        errors += _ism_condition_errors(transition.get("conditions"), f"{at}/conditions")
    return errors


def _ism_condition_errors(conditions: object, where: str) -> list[str]:
    if conditions is None:
        return []
    if not isinstance(conditions, Mapping):
        return [f"{where}: must be an object"]
    errors = [
        f"{where}/{key}: unknown transition condition{_hint(key, ISM_CONDITIONS)}"
        for key in conditions
        if key not in ISM_CONDITIONS
    ]
    if len(conditions) > 1:
        errors.append(f"{where}: at most one condition per transition (got {sorted(conditions)})")
    for key in ("min_index_age", "min_rollover_age", "min_state_age"):
        value = conditions.get(key)
        if key in conditions and not (isinstance(value, str) and _TIME_VALUE.match(value)):
            errors.append(f"{where}/{key}: {value!r} is not a time value like '30d' or '12h'")
    if "min_doc_count" in conditions:
        count = conditions["min_doc_count"]
        if isinstance(count, bool) or not isinstance(count, int) or count <= 0:
            errors.append(f"{where}/min_doc_count: must be an integer > 0, got {count!r}")
    if "min_size" in conditions:
        size = conditions["min_size"]
        match = _BYTE_SIZE.match(size) if isinstance(size, str) else None
        if match is None or float(match.group(1)) <= 0:
            errors.append(f"{where}/min_size: must be a byte size > 0 like '50gb', got {size!r}")
    if "no_alias" in conditions and not isinstance(conditions["no_alias"], bool):
        errors.append(f"{where}/no_alias: must be a boolean")
    if "cron" in conditions and not isinstance(conditions["cron"], Mapping):
        errors.append(f'{where}/cron: must be an object {{"cron": {{"expression", "timezone"}}}}')
    return errors


# -- security roles and role mappings ------------------------------------------------------------------

ROLE_KEYS = frozenset({"cluster_permissions", "tenant_permissions", "index_permissions", "description"})
ROLE_MAPPING_KEYS = frozenset({"backend_roles", "and_backend_roles", "hosts", "users", "description"})
# security plugin static_action_groups.yml, by the ``type`` each group declares.
INDEX_ACTION_GROUPS = _words(
    """
    create_index crud data_access delete get index indices_all indices_monitor manage manage_aliases
    manage_data_streams manage_point_in_time read search suggest write
    """
)
CLUSTER_ACTION_GROUPS = _words(
    """
    cluster_all cluster_composite_ops cluster_composite_ops_ro cluster_manage_index_templates
    cluster_manage_pipelines cluster_monitor manage_snapshots
    """
)
TENANT_ACTION_GROUPS = frozenset({"kibana_all_read", "kibana_all_write"})
STATIC_ACTION_GROUPS = INDEX_ACTION_GROUPS | CLUSTER_ACTION_GROUPS | TENANT_ACTION_GROUPS | {"unlimited"}
# Digest names the JDK's MessageDigest.getInstance accepts (masked_fields 'field::ALGO').
MASKING_ALGORITHMS = _words(
    """
    MD2 MD5 SHA SHA-1 SHA-224 SHA-256 SHA-384 SHA-512 SHA-512/224 SHA-512/256 SHA1 SHA3-224 SHA3-256
    SHA3-384 SHA3-512
    """
)


def _unknown_keys(body: Mapping[str, Any], allowed: frozenset[str], what: str) -> list[str]:
    return [
        f"/{key}: not accepted in a {what} (server: 'Invalid configuration'){_hint(key, allowed)}"
        for key in body
        if key not in allowed
    ]


def role_rules(body: object, *, validator: SpecValidator | None = None) -> list[str]:
    """Project rules for ``PUT _plugins/_security/api/roles/{role}`` (§5.2).

    Only the keys the REST API accepts; each ``dls`` must be a JSON string that is a valid query
    (checked strictly against ``_common.query_dsl___QueryContainer``; ``${attr.*}`` placeholders must sit
    inside JSON strings); ``masked_fields`` must parse like the plugin's FieldMaskingExpression; action
    names must be static action groups of the right kind or explicit ``indices:``/``cluster:``/``kibana:``
    patterns.
    """
    if not isinstance(body, Mapping):
        return ["/: a role must be a JSON object"]
    errors = _unknown_keys(body, ROLE_KEYS, "role")
    for i, action in enumerate(_as_list(body.get("cluster_permissions"))):
        errors += _action_errors(action, f"/cluster_permissions/{i}", "cluster")
    for i, tenant in enumerate(_as_list(body.get("tenant_permissions"))):
        actions = _as_list(tenant.get("allowed_actions")) if isinstance(tenant, Mapping) else []
        for j, action in enumerate(actions):
            errors += _action_errors(action, f"/tenant_permissions/{i}/allowed_actions/{j}", "tenant")
    for i, permission in enumerate(_as_list(body.get("index_permissions"))):
        if isinstance(permission, Mapping):
            errors += _index_permission_errors(permission, f"/index_permissions/{i}", validator)
    return errors


def _index_permission_errors(
    permission: Mapping[str, Any], where: str, validator: SpecValidator | None
) -> list[str]:
    errors: list[str] = []
    for j, action in enumerate(_as_list(permission.get("allowed_actions"))):
        errors += _action_errors(action, f"{where}/allowed_actions/{j}", "index")
    for j, expression in enumerate(_as_list(permission.get("masked_fields"))):
        errors += [f"{where}/masked_fields/{j}: {e}" for e in masked_field_errors(expression)]
    dls = permission.get("dls")
    if dls is None or (isinstance(dls, str) and not dls.strip()):
        return errors
    if not isinstance(dls, str):
        return [*errors, f"{where}/dls: must be a JSON *string* holding a query, got {type(dls).__name__}"]
    try:
        query = json.loads(dls)
    except json.JSONDecodeError as exc:
        return [
            *errors,
            f"{where}/dls: not valid JSON ({exc.msg} at column {exc.colno}); the plugin "
            f"accepts it on PUT and fails every search later",
        ]
    checker = validator or spec_validator()
    errors += _nest(f"{where}/dls(parsed)", checker.component("_common.query_dsl___QueryContainer", query))
    return errors


def _action_errors(action: object, where: str, scope: str) -> list[str]:
    if not isinstance(action, str):
        return [f"{where}: must be a string"]
    if action in ("*", "unlimited"):
        return []
    allowed_groups, allowed_prefixes = {
        "index": (INDEX_ACTION_GROUPS, ("indices:",)),
        "cluster": (CLUSTER_ACTION_GROUPS, ("cluster:", "indices:")),
        "tenant": (TENANT_ACTION_GROUPS, ("kibana:",)),
    }[scope]
    if action in allowed_groups or (action.startswith(allowed_prefixes) and len(action.split(":", 1)[1]) > 0):
        return []
    if action in STATIC_ACTION_GROUPS:
        return [f"{where}: {action!r} is not an action group for {scope} permissions, it grants nothing here"]
    if action.startswith(("indices:", "cluster:", "kibana:")):
        return [f"{where}: {action!r} is not a {scope}-level action (allowed: {', '.join(allowed_prefixes)})"]
    return [
        f"{where}: {action!r} is neither a static action group nor an explicit action pattern"
        f"{_hint(action, allowed_groups)}"
    ]


def masked_field_errors(expression: object) -> list[str]:
    """Syntax of one ``masked_fields`` entry: ``field``, ``field::ALGO`` or ``field(::/regex/::repl)+``."""
    if not isinstance(expression, str) or not expression:
        return ["must be a non-empty string"]
    tokens = expression.split("::")
    if not tokens[0]:
        return ["the field pattern before '::' is empty"]
    if len(tokens) == 2:
        algorithm = tokens[1].upper()
        return [] if algorithm in MASKING_ALGORITHMS else [f"unknown digest algorithm {tokens[1]!r}"]
    if len(tokens) > 1 and len(tokens) % 2 == 0:
        return ["must be 'field', 'field::algorithm' or 'field::/regex/::replacement' (repeated)"]
    errors: list[str] = []
    for regex in tokens[1::2]:
        if len(regex) < 2 or not (regex.startswith("/") and regex.endswith("/")):
            errors.append(f"regex {regex!r} must be wrapped in /.../")
            continue
        try:
            re.compile(regex[1:-1])
        except re.error as exc:
            errors.append(f"regex {regex!r} does not compile: {exc}")
    return errors


def role_mapping_rules(body: object) -> list[str]:
    """Project rules for ``PUT _plugins/_security/api/rolesmapping/{role}``: accepted keys only."""
    if not isinstance(body, Mapping):
        return ["/: a role mapping must be a JSON object"]
    return _unknown_keys(body, ROLE_MAPPING_KEYS, "role mapping")


# -- alerting monitors ---------------------------------------------------------------------------------

TRIGGER_FOR_MONITOR = {
    "query_level_monitor": "query_level_trigger",
    "bucket_level_monitor": "bucket_level_trigger",
    "doc_level_monitor": "document_level_trigger",
}
_TRIGGER_KINDS = frozenset(TRIGGER_FOR_MONITOR.values()) | {"chained_alert_trigger", "noop_trigger"}


def _trigger_kind(trigger: Mapping[str, Any]) -> str:
    # A trigger is {"<kind>": {...}}; a bare object is the legacy query-level form (Trigger.parse).
    if len(trigger) == 1 and next(iter(trigger)) in _TRIGGER_KINDS:
        return str(next(iter(trigger)))
    return "query_level_trigger"


def _trigger_body(trigger: Mapping[str, Any]) -> Mapping[str, Any]:
    inner = trigger.get(_trigger_kind(trigger))
    return inner if isinstance(inner, Mapping) else trigger


def monitor_rules(body: object, *, validator: SpecValidator | None = None) -> list[str]:
    """Project rules for ``POST _plugins/_alerting/monitors`` (§5.4).

    Trigger kind matches ``monitor_type``; trigger ids are unique; every ``inputs[].search.query`` is a
    valid ``search`` body (strict); a bucket-level monitor's first input is a search whose query has at
    least one aggregation, and each trigger's ``parent_bucket_path`` starts at one of them.
    """
    if not isinstance(body, Mapping):
        return ["/: a monitor must be a JSON object"]
    checker = validator or spec_validator()
    errors: list[str] = []
    monitor_type = body.get("monitor_type", "query_level_monitor")
    expected = TRIGGER_FOR_MONITOR.get(str(monitor_type))
    triggers = [t for t in _as_list(body.get("triggers")) if isinstance(t, Mapping)]
    ids = [_trigger_body(t).get("id") for t in triggers]
    errors += [f"/triggers: duplicate trigger id {i!r}" for i in _duplicates(ids)]
    for i, trigger in enumerate(triggers):
        kind = _trigger_kind(trigger)
        if expected and kind != expected:
            errors.append(f"/triggers/{i}: a {monitor_type} needs {expected} triggers, got {kind}")
    inputs = _as_list(body.get("inputs"))
    for i, monitor_input in enumerate(inputs):
        search = monitor_input.get("search") if isinstance(monitor_input, Mapping) else None
        if isinstance(search, Mapping) and "query" in search:
            errors += _nest(f"/inputs/{i}/search/query", checker.body("search", search["query"]))
    if monitor_type == "bucket_level_monitor":
        errors += _bucket_monitor_errors(inputs, triggers)
    return errors


def _bucket_monitor_errors(inputs: list[Any], triggers: list[Mapping[str, Any]]) -> list[str]:
    first = inputs[0] if inputs and isinstance(inputs[0], Mapping) else {}
    search = first.get("search")
    query = search.get("query") if isinstance(search, Mapping) else None
    if not isinstance(query, Mapping):
        return ["/inputs/0: a bucket_level_monitor needs a search input with a query"]
    aggregations = query.get("aggregations") or query.get("aggs")
    if not isinstance(aggregations, Mapping) or not aggregations:
        return ["/inputs/0/search/query: a bucket_level_monitor's query needs at least one aggregation"]
    errors: list[str] = []
    for i, trigger in enumerate(triggers):
        condition = _trigger_body(trigger).get("condition")
        path = condition.get("parent_bucket_path") if isinstance(condition, Mapping) else None
        if isinstance(path, str) and path.split(">", 1)[0] not in aggregations:
            errors.append(
                f"/triggers/{i}: parent_bucket_path {path!r} names no aggregation of the query "
                f"(have {sorted(aggregations)})"
            )
    return errors


# -- field names used by queries, monitors and visualizations ------------------------------------------


def _resolve_field(properties: object, parts: list[str]) -> Mapping[str, Any] | None:
    """The mapping of a dotted path; tries dotted property names too, and multi-fields (``fields``)."""
    if not isinstance(properties, Mapping):
        return None
    for n in range(len(parts), 0, -1):
        node = properties.get(".".join(parts[:n]))
        if not isinstance(node, Mapping):
            continue
        rest = parts[n:]
        if not rest:
            return node
        if node.get("type") == "flat_object":  # any sub-path is searchable, none is aggregatable
            return {"type": "flat_object", "_subfield_of": ".".join(parts[:n])}
        found = _resolve_field(node.get("properties"), rest) or _resolve_field(node.get("fields"), rest)
        if found is not None:
            return found
    return None


def _leaf_paths(properties: object, prefix: str = "") -> Iterator[str]:
    if isinstance(properties, Mapping):
        for name, node in properties.items():
            if isinstance(node, Mapping):
                yield f"{prefix}{name}"
                yield from _leaf_paths(node.get("properties"), f"{prefix}{name}.")
                yield from _leaf_paths(node.get("fields"), f"{prefix}{name}.")


def mapping_field_rules(
    mappings: Mapping[str, Any], fields: Iterable[str], *, aggregatable: bool
) -> list[str]:
    """Each dotted field exists in ``mappings`` (walking objects, ``nested`` and multi-fields); with
    ``aggregatable=True`` it must also be keyword/ip/numeric/date/boolean with doc values.

    ``mappings`` is a template's ``template.mappings`` (or its ``properties``). Whether a field under a
    ``nested`` object is wrapped in a ``nested`` query/aggregation is up to the caller to check.
    """
    properties = mappings.get("properties", mappings)
    errors: list[str] = []
    for field in fields:
        node = _resolve_field(properties, field.split("."))
        if node is None:
            errors.append(f"{field}: not in the mappings{_hint(field, _leaf_paths(properties))}")
            continue
        if node.get("type") == "alias" and isinstance(node.get("path"), str):
            node = _resolve_field(properties, node["path"].split(".")) or node
        if not aggregatable:
            continue
        field_type = node.get("type", "object")
        if field_type not in AGGREGATABLE_TYPES:
            keyword = [
                f"{field}.{n}"
                for n, sub in (node.get("fields") or {}).items()
                if isinstance(sub, Mapping) and sub.get("type") in AGGREGATABLE_TYPES
            ]
            advice = f"; use {keyword[0]!r}" if keyword else ""
            errors.append(f"{field}: type {field_type!r} cannot be aggregated{advice}")
        elif node.get("doc_values") is False:
            errors.append(f"{field}: has doc_values: false, so it cannot be aggregated")
    return errors
