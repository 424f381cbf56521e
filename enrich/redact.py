"""Header redaction, applied to a record's JSON text before anything else reads it.

Redacting the text (not a decoded copy) is what keeps secrets out of every copy at once: the typed
columns are decoded from the redacted text, the stored original *is* the redacted text, and the
dead-letter store gets the same treatment. The work is three Rust regex passes per record:

* ``{"name": "<sensitive>", ..., "value": "<secret>"}`` and the reverse key order, anywhere in the
  record: ``httpRequest.headers``, ``requestHeadersInserted``, rate-based ``customValues`` keyed on a
  header, and fields AWS adds later;
* ``{"key": "COOKIE", ..., "value": "<secret>"}``: rate-based aggregation on a cookie;
* then a check per record that every occurrence of a sensitive name (or COOKIE key) now sits next to
  the marker. A record that fails it (a null value, a key between name and value that holds braces,
  an escaped name) is redacted exactly by ``redact_object`` instead; see ``needs_exact_redaction``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Final

import polars as pl

from enrich.patterns import literal

_STRING: Final = r'(?:[^"\\]|\\.)*'  # the inside of a JSON string
# WAF logs the headers it inserts (custom request handling) under this prefix, so an inserted
# "authorization" arrives as "x-amzn-waf-authorization" and is just as secret.
# https://docs.aws.amazon.com/waf/latest/developerguide/customizing-the-incoming-request.html
INSERTED_PREFIX: Final = "x-amzn-waf-"
_SAME_OBJECT: Final = r"[^{}\[\]]*?"  # other members of the same object, never a nested one


@dataclass(frozen=True)
class Redaction:
    """Which header names to redact (any case) and what to write instead of their values."""

    names: tuple[str, ...]
    marker: str = "REDACTED"

    def __post_init__(self) -> None:
        if not self.names:
            raise ValueError("redaction needs at least one header name")

    @cached_property
    def _alternation(self) -> str:
        names = "|".join(literal(n) for n in self.names)
        return f"(?i:(?:{literal(INSERTED_PREFIX)})?(?:{names}))"

    @cached_property
    def _marker_json(self) -> str:
        return json.dumps(self.marker, ensure_ascii=False)[1:-1]

    @cached_property
    def name_first(self) -> str:
        """``"name":"<sensitive>", ..., "value":"`` (group 1), the value, its closing quote (group 2)."""
        return (
            rf'((?:"name"\s*:\s*"{self._alternation}"|"key"\s*:\s*"COOKIE")'
            rf'{_SAME_OBJECT}"value"\s*:\s*"){_STRING}(")'
        )

    @cached_property
    def value_first(self) -> str:
        """``"value":"`` (group 1), the value, then the rest up to the sensitive name (group 2)."""
        return (
            rf'("value"\s*:\s*"){_STRING}("{_SAME_OBJECT}'
            rf'(?:"name"\s*:\s*"{self._alternation}"|"key"\s*:\s*"COOKIE"))'
        )

    @cached_property
    def prefilter(self) -> str:
        """Any mention of a sensitive name or of COOKIE, in any case: rows without one need no redaction."""
        return "(?i)(?:" + "|".join(literal(n) for n in (*self.names, "cookie")) + ")"

    @cached_property
    def occurrence(self) -> str:
        """Any place a sensitive name or a COOKIE key sits as a JSON member."""
        return rf'"name"\s*:\s*"{self._alternation}"|"key"\s*:\s*"COOKIE"'

    @cached_property
    def _confirmed(self) -> tuple[str, str]:
        marker = literal(self._marker_json)
        return (
            rf'(?:"name"\s*:\s*"{self._alternation}"|"key"\s*:\s*"COOKIE"){_SAME_OBJECT}"value"\s*:\s*"{marker}"',
            rf'"value"\s*:\s*"{marker}"{_SAME_OBJECT}(?:"name"\s*:\s*"{self._alternation}"|"key"\s*:\s*"COOKIE")',
        )

    # --- vectorized (Polars) ---------------------------------------------------------------------

    def redact_expr(self, text: pl.Expr) -> pl.Expr:
        """The record text with every sensitive value replaced by the marker."""
        replacement = "${1}" + self._marker_json.replace("$", "$$") + "${2}"
        return text.str.replace_all(self.name_first, replacement).str.replace_all(
            self.value_first, replacement
        )

    def needs_exact_redaction(self, original: pl.Expr, redacted: pl.Expr) -> pl.Expr:
        """True where the regex pass cannot be shown complete, so ``redact_object`` must decide."""
        found = original.str.count_matches(self.occurrence)
        first, second = self._confirmed
        confirmed = redacted.str.count_matches(first) + redacted.str.count_matches(second)
        return found != confirmed

    # --- exact (Python objects), for the rare records the regex pass cannot prove ------------------

    def redact_object(self, value: object) -> object:
        """A copy of a decoded JSON value with every sensitive name/value pair's value replaced."""
        if isinstance(value, list):
            return [self.redact_object(v) for v in value]
        if not isinstance(value, dict):
            return value
        out = {k: self.redact_object(v) for k, v in value.items()}
        name, key = out.get("name"), out.get("key")
        sensitive = isinstance(name, str) and name.lower().removeprefix(INSERTED_PREFIX) in self._lower_names
        sensitive |= key == "COOKIE"
        if sensitive and out.get("value") is not None:  # a null value holds no secret: keep WAF's null
            out["value"] = self.marker
        return out

    @cached_property
    def _lower_names(self) -> frozenset[str]:
        return frozenset(n.lower() for n in self.names)

    @cached_property
    def _bytes_patterns(self) -> tuple[re.Pattern[bytes], re.Pattern[bytes]]:
        return re.compile(self.name_first.encode()), re.compile(self.value_first.encode())

    def redact_bytes(self, data: bytes) -> bytes:
        """Best-effort redaction of bytes that may not be JSON at all (dead-letter originals)."""
        marker = self._marker_json.encode().replace(b"\\", b"\\\\")
        for pattern in self._bytes_patterns:
            data = pattern.sub(rb"\g<1>" + marker + rb"\g<2>", data)
        return data


def redaction_for(names: Iterable[str], marker: str) -> Redaction:
    """A Redaction over lower-cased, de-duplicated names."""
    return Redaction(names=tuple(dict.fromkeys(n.lower() for n in names)), marker=marker)
