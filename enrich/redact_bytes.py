"""Redaction of bytes that may not be JSON at all: the originals kept in the dead-letter store.

Proven JSON takes the policy's walk (``Redaction.redact_object``). Anything else (a record cut by a
truncated gzip or the oversize cap, single or smart quotes, unquoted keys) is cut into tokens that
tolerate their own end being missing: a string runs to its closing quote *or to the end of the
input*, so a value cut before its quote is redacted whole. Each container (``{…}``/``[…]``, closed or
not) that directly holds a sensitive name, a cookie key or header/cookie match details has every
value inside it replaced, at any depth, whatever the order of its members; string rules (query
arguments, URL passwords, ``Name: value`` lines) apply to every string and unquoted run. Conservative
by design: a broken record may lose more than its secrets, never keep one.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Final

import orjson

from enrich.redact import Redaction, TooDeep, normalize_name

# A quoted token ends at its closing quote, or, left open, at the end of its line (a JSON string
# cannot hold a raw newline, so a missing quote does not turn the rest of the record inside out) or
# of the input.
_TOKEN: Final = re.compile(
    r'"(?:[^"\\\n]|\\.)*(?:"|\\?(?=\n)|\\?\Z)|\'(?:[^\'\\\n]|\\.)*(?:\'|\\?(?=\n)|\\?\Z)'
    r'|\u201c[^\u201d\n]*(?:\u201d|(?=\n)|\Z)|[{}\[\]]|[^"\'\u201c{}\[\]]+',
    re.DOTALL,
)
_QUOTES: Final = {'"': '"', "'": "'", "\u201c": "\u201d"}
_MIN_CUT_PREFIX: Final = 3  # a name cut by the end of the input is treated as sensitive from 3 letters


@dataclass
class _Container:
    parent: int | None
    key: str = ""  # the normalized key this container is the value of, if any
    last_key: str = ""  # the key most recently seen directly inside it
    flagged: bool = False
    members: list[str] = field(default_factory=list)  # normalized direct strings and words


def redact_bytes(redaction: Redaction, data: bytes) -> bytes:
    """``data`` with the policy applied: exactly when it is JSON, conservatively when it is not."""
    try:
        return orjson.dumps(redaction.redact_object(orjson.loads(data)))
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, TooDeep):
        text = data.decode("utf-8", "surrogateescape")
        return _redact_broken(redaction, text).encode("utf-8", "surrogateescape")


def _content(token: str) -> str:
    """The text of a quoted token, unescaped when it is a complete JSON string."""
    if token[:1] == '"' and len(token) > 1 and token.endswith('"'):
        try:
            return str(json.loads(token))
        except ValueError:
            pass
    close = _QUOTES.get(token[:1])
    inner = token[1:]
    return inner[:-1] if close and inner.endswith(close) else inner


def _redact_broken(redaction: Redaction, text: str) -> str:
    tokens = [m.group() for m in _TOKEN.finditer(text)]
    containers = [_Container(parent=None)]
    owner: list[int] = []  # the container each token sits in
    current = 0
    for i, token in enumerate(tokens):
        owner.append(current)
        if token in ("{", "["):
            containers.append(_Container(parent=current, key=containers[current].last_key))
            current = len(containers) - 1
        elif token in ("}", "]"):
            current = containers[current].parent or 0
        elif token[:1] in _QUOTES:
            name = normalize_name(_content(token))
            containers[current].members.append(name)
            if _is_key(tokens, i):
                containers[current].last_key = name
        else:
            containers[current].members.extend(normalize_name(w) for w in re.split(r"[\s:,=]+", token))
    _flag(redaction, containers, current, tokens[-1] if tokens else "")
    inherited: list[bool] = []  # a container is flagged when it or any container around it is
    for container in containers:  # parents come before their children
        parent = inherited[container.parent] if container.parent is not None else False
        inherited.append(container.flagged or parent)
    out: list[str] = []
    for token, where in zip(tokens, owner, strict=True):
        out.append(_redact_token(redaction, token, inherited[where], _is_key(tokens, len(out))))
    return "".join(out)


def _flag(redaction: Redaction, containers: list[_Container], current: int, last: str) -> None:
    """Mark the containers whose values are hidden.

    A container naming a secret hides everything in it; match details on a cookie or header hide
    their ``matchedData`` list. Where the input ends inside containers, what decides may lie past the
    cut: WAF writes ``name`` before ``value`` but ``matchedFieldName`` after ``matchedData``, and
    another writer may use any order. So an open container with a ``value`` member hides its values,
    an open one with ``matchedData`` hides that list, and a name cut short that begins a sensitive
    name counts as that name.
    """
    cut = last not in ("}", "]")
    if cut and last[:1] in _QUOTES and not last.endswith(_QUOTES[last[:1]]):
        prefix = normalize_name(_content(last))
        if len(prefix) >= _MIN_CUT_PREFIX and any(n.startswith(prefix) for n in redaction.sensitive):
            containers[current].flagged = True
    still_open: set[int] = set()
    index: int | None = current if cut else None
    while index:  # the root (index 0) is not a container of the record
        still_open.add(index)
        index = containers[index].parent
    for i, container in enumerate(containers):
        members = set(container.members)
        container.flagged |= any(m in redaction.sensitive or m == "cookie" for m in members)
        container.flagged |= i in still_open and "value" in members
        parent = containers[container.parent] if container.parent is not None else None
        if parent is not None and container.key == "matcheddata":
            container.flagged |= _hides_matched_data(set(parent.members), cut=container.parent in still_open)


def _hides_matched_data(members: set[str], *, cut: bool) -> bool:
    return cut or any("header" in m or "cookie" in m or m == "matchedfieldname" for m in members)


def _is_key(tokens: list[str], i: int) -> bool:
    following = tokens[i + 1] if i + 1 < len(tokens) else ""
    return following.lstrip()[:1] == ":"


def _redact_token(redaction: Redaction, token: str, flagged: bool, key: bool) -> str:
    marker = redaction.marker
    if token in ("{", "}", "[", "]"):
        return token
    quote = token[:1]
    if quote in _QUOTES:
        close = _QUOTES[quote]
        inner = token[1:]
        closed = len(inner) > 0 and inner.endswith(close)
        if flagged and not key and normalize_name(_content(token)) not in redaction.sensitive:
            return f"{quote}{marker}{close}"
        if quote == '"':  # rule 4 sees the string as JSON means it (a "\\n" is a line break)
            text = _content(token if closed else f'{token.removesuffix(chr(92))}"')
            redacted = redaction.redact_string(text)
            return token if redacted == text else json.dumps(redacted, ensure_ascii=False)
        raw = inner[: -len(close)] if closed else inner
        return f"{quote}{redaction.redact_string(raw)}{close if closed else ''}"
    if flagged:  # unquoted members: keep what precedes each ':' or '=', replace what follows
        return re.sub(
            r"([:=]\s*)([^,\s:=][^,:=]*)",
            lambda m: (
                m.group(0) if normalize_name(m.group(2)) in redaction.sensitive else m.group(1) + marker
            ),
            token,
        )
    return redaction.redact_string(token)
