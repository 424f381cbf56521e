"""Regex building blocks shared by redaction and ownership: literal text, and globs, as regexes.

Only what Polars' Rust regex and Python's ``re`` agree on: the metacharacters escaped here mean the
same in both, so one pattern serves the vectorized path and the exact one.
"""

from __future__ import annotations

from typing import Final

_META: Final = frozenset(r"\.+*?()|[]{}^$#&-~")


def literal(text: str) -> str:
    """``text`` as a regex matching exactly itself."""
    return "".join(f"\\{c}" if c in _META else c for c in text)


def glob_regex(pattern: str) -> str:
    """An anchored regex for a glob where ``*`` is any run of characters and ``?`` one character."""
    body = "".join(".*" if c == "*" else "." if c == "?" else literal(c) for c in pattern)
    return f"^{body}$"
