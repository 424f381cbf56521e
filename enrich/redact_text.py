"""The redaction policy as Rust regexes over record texts, and the check that proves each record done.

Redacting the text (not a decoded copy) keeps secrets out of every copy at once: the typed columns are
decoded from the redacted text and the stored original *is* the redacted text. The pass handles the
shapes WAF writes: ``{"name":"Cookie","value":"…"}`` objects (headers, inserted headers, custom keys,
``{"key":"COOKIE",…}``) and, inside any string, sensitive query arguments and URL passwords.

Match details on cookies and headers (rule 3) are finished per record by ``hide_matched_data``, a walk
over the parsed text that masks only ``matchedData``. Everything else the policy covers (escaped or
oddly placed names, headers logged as a map or pairs, ``Name: value`` strings, duplicate ``value``
members) is left to the exact walk, ``Redaction.redact_object``: ``needs_exact`` is true for a record
unless every sensitive name in it sits in a WAF-shaped object whose value now is the marker (or is a
match detail's ``location`` or ``matchedFieldName``, which labels nothing), it has no JSON escape that
could hide a name, and no header strings that need the walk. Sound by construction: a record the check
passes holds no sensitive value the walk would have replaced, rule 3's aside.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Final

import orjson
import polars as pl

from enrich.patterns import literal
from enrich.redact import INSERTED_PREFIX, Redaction, TooDeep, percent_tolerant

STRING: Final = r'(?:[^"\\]|\\.)*'  # the inside of a JSON string
STRING_START: Final = r'(?:[^"\\]|\\.)*?'  # the inside of a JSON string, up to what follows
_LOCATION: Final = r'"location"\s*:\s*'
_DETAIL_MEMBER: Final = r'"(?:location|matchedFieldName)"\s*:\s*'
PAD: Final = r"[\x00-\x20]*"  # what normalize_name strips, as raw bytes (escaped padding is an escape)
# An escape that can stand for a letter, a control character or a newline: a backslash that starts an
# escape (an odd run of them) followed by anything but a quote, a backslash or a slash.
ESCAPE: Final = r'(?:^|[^\\])(?:\\\\)*\\[^"\\/]'


@cache  # one per Redaction: its regexes are built once, not per batch
def text_redaction(redaction: Redaction) -> TextRedaction:
    """The vectorized pass for ``redaction``."""
    return TextRedaction(redaction)


@dataclass(frozen=True)
class TextRedaction:
    """``redaction``'s policy for the vectorized pass."""

    redaction: Redaction

    def _names(self, names: frozenset[str]) -> str:
        return f"(?i:(?:{literal(INSERTED_PREFIX)}{PAD})*(?:{'|'.join(literal(n) for n in sorted(names))}))"

    @cached_property
    def _token(self) -> str:
        """A JSON string that normalizes to a sensitive name."""
        return f'"{PAD}{self._names(self.redaction.sensitive)}{PAD}"'

    @cached_property
    def _cookie(self) -> str:
        return f'"{PAD}{self._names(frozenset({"cookie"}))}{PAD}"'

    @cached_property
    def _marker(self) -> str:
        return literal(self.redaction.marker)

    @cached_property
    def _args(self) -> str:
        return f"(?i:{'|'.join(percent_tolerant(n) for n in self.redaction.query_args)})"

    @cached_property
    def _userinfo(self) -> str:
        return r'((?:\\?/){2}[^/?#@\s"\\]*:)[^/?#@\s"\\]+@'

    @cached_property
    def prefilter(self) -> str:
        """Rows that match nothing here need no redaction at all (a literal-heavy regex: fast)."""
        header_words = "|".join(literal(n) for n in sorted(self.redaction.header_names | {"cookie"}))
        return (
            f'(?i:{header_words})|{ESCAPE}|"matchedData"|{self._token}|[?&;"]{self._args}=|{self._userinfo}'
        )

    def redact(self, text: pl.Expr) -> pl.Expr:
        """``text`` with WAF-shaped sensitive values, query arguments and URL passwords replaced."""
        marker = self.redaction.marker.replace("$", "$$")
        named = rf'(\{{(?:"key":"{STRING}",)?"name":{self._token},"value":"){STRING}(")'
        cookie = rf'(\{{"key":{self._cookie},"name":"{STRING}","value":"){STRING}(")'
        args = rf'([?&;"]{self._args}=)(?:[^&;#"\\]|\\.)+'
        return (
            text.str.replace_all(named, f"${{1}}{marker}${{2}}")
            .str.replace_all(cookie, f"${{1}}{marker}${{2}}")
            .str.replace_all(args, f"${{1}}{marker}")
            .str.replace_all(self._userinfo, f"${{1}}{marker}@")
        )

    def match_details(self, original: pl.Expr) -> pl.Expr:
        """True where the record may hold match details rule 3 hides (``hide_matched_data`` does them)."""
        return original.str.contains(r'"matchedData"\s*:\s*\[') & original.str.contains(
            rf'"matchedFieldName"|{_LOCATION}"{STRING_START}(?i:header|cookie)'
        )

    def needs_exact(self, original: pl.Expr, redacted: pl.Expr) -> pl.Expr:
        """True where the pass above cannot be shown to have done rules 1, 2 and 4, or where it changed
        a member that rule 3 reads (``hide_matched_data`` must see them as WAF wrote them)."""
        done = f'"value":(?:"{self._marker}"|null)\\}}'
        confirmed = (
            redacted.str.count_matches(rf'\{{"name":{self._token},{done}')
            + redacted.str.count_matches(rf'\{{"key":"{STRING}","name":{self._token},{done}')
            + redacted.str.count_matches(rf'\{{"key":{self._cookie},"name":"{STRING}",{done}')
            # a match detail's location or field name: a name there labels nothing (rule 3 reads it)
            + redacted.str.count_matches(rf"{_DETAIL_MEMBER}{self._token}")
        )
        header_line = f'"[ \\t]*{self._names(self.redaction.header_names)}[ \\t]*:'
        # every replacement above writes the marker: a detail member without it is as WAF wrote it
        changed_detail = redacted.str.contains(rf'{_DETAIL_MEMBER}"{STRING_START}{self._marker}')
        return (
            original.str.contains(ESCAPE)
            | (original.str.count_matches(self._token) != confirmed)
            | original.str.contains(header_line)
            | (self.match_details(original) & changed_detail)
        )

    def hide_matched_data(self, redacted: Iterable[str]) -> list[str | None]:
        """Rule 3 for records the pass did the other rules for: each parsed, walked with
        ``Redaction.redact_matched_data`` and written again, normalized (orjson: one key each, as the
        exact walk writes it); None where the text is not a JSON object within ``MAX_DEPTH``.

        Sound: where ``needs_exact`` is false the text holds what ``redact_object`` gives for rules 1, 2
        and 4, and each ``location`` and ``matchedFieldName`` as WAF wrote it; rule 3 reads only those and
        replaces whole ``matchedData`` values, so walking the redacted value gives ``redact_object``'s.
        """
        out: list[str | None] = []
        for text in redacted:  # only records with match details on a cookie or header: a few in a hundred
            try:
                value = orjson.loads(text)
                if not isinstance(value, dict):
                    out.append(None)
                    continue
                self.redaction.redact_matched_data(value)
                out.append(orjson.dumps(value).decode())
            except (orjson.JSONDecodeError, orjson.JSONEncodeError, TooDeep):
                out.append(None)
        return out
