"""The redaction policy: which request content never leaves the ingester, decided on decoded JSON.

``Redaction.redact_object`` is the policy's single definition, a walk over a decoded record; the
vectorized pass (``enrich.redact_text``) and the dead-letter pass (``enrich.redact_bytes``) must agree
with it, and a property test holds them to it. The policy (README, "Secrets"):

1. **Values labelled by a sensitive name.** A name is sensitive when, stripped of control characters
   and spaces, case-folded and stripped of WAF's ``x-amzn-waf-`` prefix (any number of times), it is a
   sensitive header or query-argument name. Its value is replaced wherever the name labels one: an
   object's ``value`` members beside ``"name": <sensitive>`` (headers, inserted headers, rate-based
   ``customValues``, any future field); the value of a member whose key is sensitive (headers logged
   as a map); the element after a sensitive string in a list (``[name, value]`` pairs).
2. **Cookies.** ``value`` beside ``"key": "COOKIE"`` (any case): rate-based aggregation on a cookie.
3. **Match details.** Every ``matchedData`` token of an object whose ``location`` names a cookie, or a
   header when ``matchedFieldName`` is absent (older records cannot say which header matched) or
   sensitive, or any location whose ``matchedFieldName`` is sensitive (a query argument, a JSON field).
4. **Inside every string.** ``name=value`` pairs whose name is a sensitive query argument (percent-
   encoded letters too) after ``?``, ``&``, ``;`` or at the start (``args``, ``uri``, a Referer, a
   ``QUERY_STRING`` custom key); the password of ``//user:password@``; and ``Name: value`` lines whose
   name is a sensitive header (headers logged as one string).

Redacted values become the marker (WAF's own ``REDACTED`` by default); names, keys, null values and
the shape of the record are kept. Records nested deeper than ``MAX_DEPTH`` are not WAF records and
are refused (``TooDeep``) rather than walked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

from enrich.config import DEFAULT_REDACTED_QUERY_ARGS, MARKER_SHAPE, EnrichConfig
from enrich.patterns import literal

# WAF logs the headers it inserts (custom request handling) under this prefix, so an inserted
# "authorization" arrives as "x-amzn-waf-authorization" and is just as secret.
# https://docs.aws.amazon.com/waf/latest/developerguide/customizing-the-incoming-request.html
INSERTED_PREFIX: Final = "x-amzn-waf-"
# Stripped from both ends of a name before it is compared: C0 control characters and the space.
NAME_PADDING: Final = "".join(chr(c) for c in range(0x21))
MAX_DEPTH: Final = 128  # WAF records nest about 7 levels
_MEMO: Final = 4096  # names remembered per Redaction (attacker-chosen names must not grow it without bound)


class TooDeep(ValueError):
    """A record nested deeper than ``MAX_DEPTH`` levels."""


def normalize_name(name: str) -> str:
    """How a header or argument name is compared: unpadded, case-folded, without WAF's insert prefix."""
    folded = name.strip(NAME_PADDING).casefold()
    while folded.startswith(INSERTED_PREFIX):
        folded = folded[len(INSERTED_PREFIX) :].strip(NAME_PADDING)
    return folded


def percent_tolerant(name: str) -> str:
    """A regex for ``name`` in a URL, where any character may also be written ``%XX``."""
    return "".join(f"(?:{literal(c)}|%{ord(c):02X})" if ord(c) < 0x80 else literal(c) for c in name)


@dataclass(frozen=True)
class Redaction:
    """Which header and query-argument names are sensitive, and what replaces their values."""

    names: tuple[str, ...]
    marker: str = "REDACTED"
    query_args: tuple[str, ...] = field(default=DEFAULT_REDACTED_QUERY_ARGS)

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("redaction needs at least one header name")
        if not MARKER_SHAPE.fullmatch(self.marker):
            raise ValueError(
                f"redaction marker {self.marker!r} has characters a URL or JSON gives meaning to"
            )

    @cached_property
    def header_names(self) -> frozenset[str]:
        """Sensitive header names, normalized."""
        return frozenset(normalize_name(n) for n in self.names)

    @cached_property
    def sensitive(self) -> frozenset[str]:
        """Every sensitive name (headers and query arguments), normalized."""
        return self.header_names | {normalize_name(n) for n in self.query_args}

    # --- rule 4: inside every string (Python ``re`` on decoded text) ------------------------------

    @cached_property
    def _string_rules(self) -> tuple[tuple[re.Pattern[str], str], ...]:
        args = "|".join(percent_tolerant(n) for n in self.query_args)
        headers = "|".join(literal(n) for n in sorted(self.header_names))
        marker = self.marker.replace("\\", "\\\\")
        prefix = f"(?:{literal(INSERTED_PREFIX)})"
        return (
            (re.compile(rf"(?i)((?:^|[?&;\"])(?:{args})=)[^&;#]+"), rf"\g<1>{marker}"),
            (re.compile(r"(//[^/?#@\s\"\\]*:)[^/?#@\s\"\\]+@"), rf"\g<1>{marker}@"),
            (
                re.compile(rf"(?im)^([ \t]*{prefix}*(?:{headers})[ \t]*:[ \t]*)[^ \t\r\n][^\r\n]*"),
                rf"\g<1>{marker}",
            ),
        )

    def redact_string(self, text: str) -> str:
        """Rule 4 applied to one string (each rule only where its punctuation occurs: most skip all)."""
        args, userinfo, lines = self._string_rules
        if "=" in text:
            text = args[0].sub(args[1], text)
        if "@" in text and "//" in text:
            text = userinfo[0].sub(userinfo[1], text)
        if ":" in text:
            text = lines[0].sub(lines[1], text)
        return text

    # --- the walk -----------------------------------------------------------------------------------

    @cached_property
    def _verdicts(self) -> dict[str, bool]:
        return {}

    def _is_sensitive(self, value: object) -> bool:
        if not isinstance(value, str):
            return False
        verdicts = self._verdicts  # keys and header names repeat across records: remember a few
        verdict = verdicts.get(value)
        if verdict is None:
            if len(verdicts) > _MEMO:
                verdicts.clear()
            verdict = verdicts[value] = normalize_name(value) in self.sensitive
        return verdict

    def _mask(self, value: object, depth: int) -> object:
        """Every string inside ``value`` replaced by the marker; numbers, booleans and nulls kept."""
        if depth > MAX_DEPTH:
            raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            return self.marker
        if isinstance(value, list):
            return [self._mask(v, depth + 1) for v in value]
        if isinstance(value, dict):
            return {k: self._mask(v, depth + 1) for k, v in value.items()}
        return value

    def hides_matched_data(self, detail: dict[str, object]) -> bool:
        """Rule 3's test: ``detail`` holds a ``matchedData`` list and says it was matched on a secret."""
        if not isinstance(detail.get("matchedData"), list):
            return False
        location = detail.get("location")
        where = location.casefold() if isinstance(location, str) else ""
        field_name = detail.get("matchedFieldName")
        if "cookie" in where or self._is_sensitive(field_name):
            return True
        unnamed = field_name is None or (isinstance(field_name, str) and not field_name.strip(NAME_PADDING))
        return "header" in where and unnamed

    def redact_matched_data(self, value: object, depth: int = 0) -> None:
        """Rule 3 alone, in place: mask the ``matchedData`` of every object ``hides_matched_data`` holds for.

        For a value the caller has just parsed (it is changed, not copied). Raises TooDeep where
        ``redact_object`` would. Rule 3 is decided on an object's own ``location`` and
        ``matchedFieldName`` and masks a whole value, so it commutes with rules 1, 2 and 4: applied to a
        value those rules were already applied to (without changing either of those two members), it gives
        what ``redact_object`` gives for the original.
        """
        if isinstance(value, dict):
            children: Iterable[object] = value.values()
            if self.hides_matched_data(value):
                value["matchedData"] = self._mask(value["matchedData"], depth + 1)
                children = (v for k, v in value.items() if k != "matchedData")
        elif isinstance(value, list):
            children = value
        else:
            return
        if depth >= MAX_DEPTH and value:  # its members would lie past the limit
            raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
        for child in children:
            if isinstance(child, dict | list):
                self.redact_matched_data(child, depth + 1)

    def redact_object(self, value: object, depth: int = 0) -> object:
        """A copy of a decoded JSON value with the policy applied (raises TooDeep past MAX_DEPTH)."""
        if depth > MAX_DEPTH:
            raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            return self.redact_string(value)
        if isinstance(value, list):
            items = [self.redact_object(v, depth + 1) for v in value]
            for i in range(1, len(value)):  # [name, value] pairs
                if self._is_sensitive(value[i - 1]) and isinstance(value[i], str):
                    items[i] = self.marker
            return items
        if not isinstance(value, dict):
            return value
        labelled = self._is_sensitive(value.get("name"))
        key = value.get("key")
        labelled |= isinstance(key, str) and normalize_name(key) == "cookie"
        secret_matches = self.hides_matched_data(value)
        out: dict[str, object] = {}
        for k, v in value.items():
            if (
                self._is_sensitive(k)
                or (labelled and k == "value")
                or (secret_matches and k == "matchedData")
            ):
                out[self.redact_string(k)] = self._mask(v, depth + 1)
            else:
                out[self.redact_string(k)] = self.redact_object(v, depth + 1)
        return out


def redaction_for(
    names: Iterable[str], marker: str, query_args: Iterable[str] = DEFAULT_REDACTED_QUERY_ARGS
) -> Redaction:
    """A Redaction over lower-cased, de-duplicated names."""
    return Redaction(
        names=tuple(dict.fromkeys(n.lower() for n in names)),
        marker=marker,
        query_args=tuple(dict.fromkeys(n.lower() for n in query_args)),
    )


def redaction_from(config: EnrichConfig) -> Redaction:
    """The Redaction an enrichment config asks for."""
    return redaction_for(config.redacted_headers, config.redaction_marker, config.redacted_query_args)
