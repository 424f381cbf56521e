"""The search semantics the fake OpenSearch knows: exactly the query DSL subset waflens sends.

``bool`` (``filter``, ``must``, ``should`` with ``minimum_should_match``, ``must_not``), ``term``,
``terms``, ``range`` on dates and numbers, ``wildcard`` (``case_insensitive``), ``match_phrase``,
``match_all`` and ``ids``; ``sort`` by fields and ``_id``, ``search_after``, ``size``. Field types are
guessed from the values, as the fake has no mappings: a ``term`` whose value and the document's parse
as IP addresses compares them as OpenSearch's ``ip`` type does (a CIDR block matches the addresses in
it, IPv4 and IPv4-mapped IPv6 are the same address). Anything else is refused with the reason, so a
test can never pass on a query the fake silently ignored.
"""

from __future__ import annotations

import functools
import ipaddress
import operator
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

JsonObject = dict[str, Any]
Hit = tuple[tuple[str, str], JsonObject]  # ((index, _id), _source)
_MAPPED = 0xFFFF_0000_0000


class UnsupportedQuery(ValueError):
    """A query the fake does not evaluate; the server answers 400 with this reason."""


def _values(source: Any, path: list[str]) -> Iterator[Any]:
    """Every value at a dotted path, through objects and arrays (as a field of a document is indexed)."""
    if isinstance(source, list):
        for item in source:
            yield from _values(item, path)
    elif not path:
        yield source
    elif isinstance(source, dict):
        yield from _values(source.get(path[0]), path[1:])


def field_values(doc: JsonObject, field: str) -> list[Any]:
    """The values of ``field`` in ``doc``; ``x.text`` reads ``x`` (the text sub-field of a keyword)."""
    parts = field.split(".")
    found = [v for v in _values(doc, parts) if v is not None]
    if not found and parts[-1] == "text":
        found = [v for v in _values(doc, parts[:-1]) if v is not None]
    return found


def _as_128(value: str) -> int | None:
    """An address as OpenSearch's ip type stores it (IPv4 inside ::ffff:0:0/96), or None."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    return int(address) + (_MAPPED if address.version == 4 else 0)


def _ip_term(wanted: str, value: Any) -> bool | None:
    """Whether ``value`` is in the address or block ``wanted``; None when either is not an IP."""
    if not isinstance(value, str):
        return None
    address = _as_128(value)
    try:
        network = ipaddress.ip_network(wanted, strict=False)
    except ValueError:
        return None
    if address is None:
        return None
    offset = _MAPPED if network.version == 4 else 0
    first = int(network.network_address) + offset
    return first <= address <= int(network.broadcast_address) + offset


def _equal(wanted: Any, value: Any) -> bool:
    by_ip = _ip_term(str(wanted), value) if isinstance(wanted, str) else None
    if by_ip is not None:
        return by_ip
    return bool(value == wanted)


def _term(spec: JsonObject, doc: JsonObject) -> bool:
    ((field, wanted),) = spec.items()
    if isinstance(wanted, dict):
        wanted = wanted["value"]
    return any(_equal(wanted, v) for v in field_values(doc, field))


def _terms(spec: JsonObject, doc: JsonObject) -> bool:
    ((field, wanted),) = spec.items()
    return any(_equal(w, v) for w in wanted for v in field_values(doc, field))


def epoch_ms(value: Any) -> int | float | None:
    """A date value (ISO 8601 text or epoch milliseconds) as epoch milliseconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return float(value) if re.fullmatch(r"-?\d+(\.\d+)?", value) else None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return int(moment.timestamp() * 1000)
    return None


def _range(spec: JsonObject, doc: JsonObject) -> bool:
    ((field, bounds),) = spec.items()
    unknown = set(bounds) - {"gte", "gt", "lte", "lt", "format"}
    if unknown:
        raise UnsupportedQuery(f"range options {sorted(unknown)}")
    checks = {"gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt}
    limits: dict[str, int | float] = {}
    for name in (n for n in checks if n in bounds):
        limit = epoch_ms(bounds[name])
        if limit is None:
            raise UnsupportedQuery(f"range bound {name} {bounds[name]!r} is not a date or a number")
        limits[name] = limit
    values = [v for v in (epoch_ms(v) for v in field_values(doc, field)) if v is not None]
    return any(all(checks[name](v, limit) for name, limit in limits.items()) for v in values)


def _wildcard_regex(pattern: str) -> str:
    """A Lucene wildcard pattern (``*``, ``?``, ``\\`` escapes) as an anchored regex."""
    out, chars = [], iter(pattern)
    for c in chars:
        if c == "\\":
            out.append(re.escape(next(chars, "\\")))
        else:
            out.append({"*": ".*", "?": "."}.get(c, re.escape(c)))
    return "".join(out)


def _wildcard(spec: JsonObject, doc: JsonObject) -> bool:
    ((field, options),) = spec.items()
    if not isinstance(options, dict):
        options = {"value": options}
    flags = re.DOTALL | (re.IGNORECASE if options.get("case_insensitive") else 0)
    regex = re.compile(_wildcard_regex(str(options["value"])), flags)
    return any(isinstance(v, str) and regex.fullmatch(v) for v in field_values(doc, field))


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())  # close to the standard analyzer for ASCII text


def _match_phrase(spec: JsonObject, doc: JsonObject) -> bool:
    ((field, options),) = spec.items()
    phrase = _words(str(options["query"] if isinstance(options, dict) else options))
    for value in field_values(doc, field):
        words = _words(str(value))
        if any(words[i : i + len(phrase)] == phrase for i in range(len(words) - len(phrase) + 1)):
            return True
    return False


def _bool(spec: JsonObject, doc: JsonObject, doc_id: str) -> bool:
    unknown = set(spec) - {"filter", "must", "should", "must_not", "minimum_should_match"}
    if unknown:
        raise UnsupportedQuery(f"bool options {sorted(unknown)}")

    def clauses(name: str) -> list[JsonObject]:
        value = spec.get(name, [])
        return value if isinstance(value, list) else [value]

    if not all(matches(q, doc, doc_id) for q in clauses("filter") + clauses("must")):
        return False
    if any(matches(q, doc, doc_id) for q in clauses("must_not")):
        return False
    should = clauses("should")
    needed = int(spec.get("minimum_should_match", 0 if clauses("filter") + clauses("must") else 1))
    return not should or sum(matches(q, doc, doc_id) for q in should) >= needed


def matches(query: JsonObject, doc: JsonObject, doc_id: str) -> bool:
    """Whether ``doc`` (with id ``doc_id``) satisfies ``query``; UnsupportedQuery for other DSL."""
    if not isinstance(query, dict) or len(query) != 1:
        raise UnsupportedQuery("a query must be an object with one key")
    ((kind, spec),) = query.items()
    simple = {
        "term": _term,
        "terms": _terms,
        "range": _range,
        "wildcard": _wildcard,
        "match_phrase": _match_phrase,
    }
    if kind == "match_all":
        return True
    if kind == "ids":
        return doc_id in set(spec.get("values", []))
    if kind == "bool":
        return _bool(spec, doc, doc_id)
    if kind in simple:
        return bool(simple[kind](spec, doc))
    raise UnsupportedQuery(f"the fake supports {sorted([*simple, 'bool', 'ids', 'match_all'])}, got {kind}")


def _sort_spec(sort: list[Any]) -> list[tuple[str, bool]]:
    spec = []
    for entry in sort:
        if isinstance(entry, str):
            spec.append((entry, entry == "_score"))
            continue
        ((field, options),) = entry.items()
        order = options.get("order", "asc") if isinstance(options, dict) else options
        spec.append((str(field), order == "desc"))
    return spec


def _sort_value(hit: Hit, field: str) -> Any:
    if field == "_id":
        return hit[0][1]
    values = field_values(hit[1], field)
    if not values:
        return None
    value = values[0]
    date = epoch_ms(value) if isinstance(value, str) and "T" in value else None
    return date if date is not None else value


def _compare(a: list[Any], b: list[Any], spec: list[tuple[str, bool]]) -> int:
    """Order two hits' sort values; missing values sort last either way, as OpenSearch's default."""
    for left, right, (_, descending) in zip(a, b, spec, strict=True):
        if left == right:
            continue
        if left is None or right is None:
            return 1 if left is None else -1
        before = left < right
        return (1 if before else -1) if descending else (-1 if before else 1)
    return 0


def search(hits: list[Hit], request: JsonObject) -> tuple[list[Hit], list[list[Any]] | None]:
    """The hits ``request`` finds, sorted and after ``search_after``, with each one's sort values
    (None when the request does not sort); ``from``/``size`` are the caller's."""
    query = request.get("query", {"match_all": {}})
    found = [(key, doc) for key, doc in hits if matches(query, doc, key[1])]
    if "sort" not in request:
        if "search_after" in request:
            raise UnsupportedQuery("search_after needs a sort")
        return found, None
    spec = _sort_spec(request["sort"])
    keyed: list[tuple[list[Any], Hit]] = [([_sort_value(hit, f) for f, _ in spec], hit) for hit in found]

    def order(x: tuple[list[Any], Hit], y: tuple[list[Any], Hit]) -> int:
        return _compare(x[0], y[0], spec)

    keyed.sort(key=functools.cmp_to_key(order))
    after = request.get("search_after")
    if after is not None:
        keyed = [(values, hit) for values, hit in keyed if _compare(values, list(after), spec) > 0]
    return [hit for _, hit in keyed], [values for values, _ in keyed]
