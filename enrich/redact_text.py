"""The redaction policy as Rust regexes over record texts, and the check that proves each record done.

Redacting the text (not a decoded copy) keeps secrets out of every copy at once: the typed columns are
decoded from the redacted text and the stored original *is* the redacted text. The pass handles the
shapes WAF writes: ``{"name":"Cookie","value":"…"}`` objects (headers, inserted headers, custom keys,
``{"key":"COOKIE",…}``) and, inside any string, sensitive query arguments and URL passwords.

Everything else the policy covers (escaped or oddly placed names, headers logged as a map or pairs,
match details on cookies and headers, ``Name: value`` strings, duplicate ``value`` members) is left to
the exact walk, ``Redaction.redact_object``: ``needs_exact`` is true for a record unless every
sensitive name in it sits in a WAF-shaped object whose value now is the marker, it has no JSON escape
that could hide a name, and no match details or header strings that need the walk. Sound by
construction: a record the check passes holds no sensitive value the walk would have replaced.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from typing import Final

import polars as pl

from enrich.patterns import literal
from enrich.redact import INSERTED_PREFIX, Redaction, percent_tolerant

STRING: Final = r'(?:[^"\\]|\\.)*'  # the inside of a JSON string
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

    def needs_exact(self, original: pl.Expr, redacted: pl.Expr) -> pl.Expr:
        """True where the pass above cannot be shown to have done everything the policy asks."""
        done = f'"value":(?:"{self._marker}"|null)\\}}'
        confirmed = (
            redacted.str.count_matches(rf'\{{"name":{self._token},{done}')
            + redacted.str.count_matches(rf'\{{"key":"{STRING}","name":{self._token},{done}')
            + redacted.str.count_matches(rf'\{{"key":{self._cookie},"name":"{STRING}",{done}')
        )
        header_line = f'"[ \\t]*{self._names(self.redaction.header_names)}[ \\t]*:'
        secret_matches = original.str.contains(r'"matchedData"\s*:\s*\[') & original.str.contains(
            r'"matchedFieldName"|"location"\s*:\s*"(?:[^"\\]|\\.)*?(?i:header|cookie)'
        )
        return (
            original.str.contains(ESCAPE)
            | (original.str.count_matches(self._token) != confirmed)
            | secret_matches
            | original.str.contains(header_line)
        )
