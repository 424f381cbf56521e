"""Framed record texts → a typed, redacted Polars frame, plus the records rejected with a reason.

The fast path is ``str.json_decode`` of the batch into an explicit struct (no inference), in slices on
Polars' threads (``ingest.decode.slices``). Polars fails a whole slice on one bad row, so a failing slice
is bisected until the bad rows are isolated; those, the rows that carry a key waflens adds, and the rows
the regex redaction cannot prove complete take the exact path: orjson,
``Redaction.redact_object``, then coercion to the schema's shapes (a list where an object belongs
becomes null in the typed column; the value stays, redacted, in ``event_original``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Final

import orjson
import polars as pl
import polars_hash as plh

from enrich import schema as S
from enrich.redact import Redaction, TooDeep
from enrich.redact_bytes import redact_bytes
from enrich.redact_text import TextRedaction, text_redaction
from ingest.decode.framing import FramedBatch
from ingest.decode.slices import decode_unreserved, on_slices
from ingest.outcomes import RejectedRecord, RejectKind

if TYPE_CHECKING:
    from polars._typing import PolarsDataType

_TEXT: Final = "_text"  # the record as framed: unredacted; used for the id, then dropped
_DECODE: Final = "_decode"  # the text fed to json_decode (redacted; normalized on the exact path)
_ROW: Final = "_row"
# More headers than any client sends: a record with more is refused before its list is held again.
MAX_HEADERS: Final = 1000
# WAF fields that occur at one place in a record: a second occurrence is a duplicate key, which
# Polars resolves first-wins and every JSON reader of event_original last-wins (see _ambiguous).
_ONCE: Final = tuple(
    f
    for f in (*S.WAF_FIELDS, *S.WAF_RECORD["httpRequest"].to_schema())  # type: ignore[attr-defined]
    if f not in ("action", "nonTerminatingMatchingRules", "captchaResponse", "challengeResponse")
)


@dataclass(frozen=True)
class DecodedBatch:
    """Typed rows (``_id``, ``event_original``, ``line``, ``part`` and the projected WAF columns)."""

    frame: pl.DataFrame
    rejected: list[RejectedRecord]


def record_id(text: bytes | str) -> str:
    """The document id of a record: the first 128 bits of the SHA-256 of its exact bytes as WAF wrote them.

    Derived from the event alone, so replays, Firehose retries and backfills converge on one document,
    while two records that differ in any byte (two requests in the same millisecond) never collide.
    The definition; ``record_ids`` computes the same in Polars.
    """
    data = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:32]


def record_ids(texts: pl.Series) -> pl.Series:
    """``record_id`` of each text (UTF-8, so its string is its bytes), vectorized: polars-hash's SHA-256
    takes 0.3 s per 100k generated records where the hashlib loop takes 0.45 s and holds the GIL."""
    return (
        texts.to_frame("text")
        .select(plh.col("text").chash.sha2_256().str.head(32).alias(S.DOC_ID))
        .to_series()
    )


def decode(batch: FramedBatch, *, redaction: Redaction, projection: pl.Schema) -> DecodedBatch:
    """Decode a framed batch into typed rows; every candidate ends in the frame or in ``rejected``.

    The batch may hold records of several sources: each row keeps its ``source``, ``line`` and ``part``.
    """
    dtype = S.decode_dtype(projection)
    # framing has checked every text is UTF-8, so the cast cannot fail
    texts = pl.Series(batch.texts, dtype=pl.Binary).cast(pl.String)
    frame = pl.DataFrame(
        {
            _TEXT: texts,
            "source": pl.Series(batch.sources, dtype=pl.String),
            "line": pl.Series(batch.lines, dtype=pl.Int64),
            "part": pl.Series(batch.parts, dtype=pl.Int64),
            S.DOC_ID: record_ids(texts),  # from the unredacted bytes
        }
    ).with_row_index(_ROW)
    frame = _redact(frame, redaction)
    fast = frame.filter(~pl.col("_exact"))
    decoded, failed = decode_unreserved(fast[S.EVENT_ORIGINAL], dtype)
    failed |= _ambiguous(fast[S.EVENT_ORIGINAL], decoded, projection)
    rows = [fast.filter(~failed).with_columns(decoded.filter(~failed).alias(_DECODE))]
    exact_rows, rejected = _exact_path(
        pl.concat([frame.filter(pl.col("_exact")), fast.filter(failed)]), redaction, dtype
    )
    rows.append(exact_rows)
    typed = pl.concat(rows).sort(_ROW).drop(_TEXT, "_exact", _ROW)
    typed = typed.with_columns(pl.col(_DECODE).struct.unnest()).drop(_DECODE)
    valid, invalid = _check_required(typed, projection)
    return DecodedBatch(frame=valid, rejected=rejected + invalid)


def _redact(frame: pl.DataFrame, redaction: Redaction) -> pl.DataFrame:
    """Add ``event_original`` (the redacted text) and ``_exact`` (rows the exact path must take).

    Only rows the prefilter matches go through the replace and check passes; of those, the ones with
    match details on a cookie or header get rule 3 from ``hide_matched_data`` (5% of generated records;
    parse, walk and write again cost about a third of the exact path's parse, redact_object and coerce).
    """
    passes = text_redaction(redaction)
    marked = on_slices(frame, partial(_mark, passes=passes))
    walk = marked.filter(pl.col("_walk"))
    finished = pl.Series(passes.hide_matched_data(walk[S.EVENT_ORIGINAL]), dtype=pl.String)
    walk = walk.with_columns(
        finished.fill_null(walk[S.EVENT_ORIGINAL]).alias(S.EVENT_ORIGINAL), finished.is_null().alias("_exact")
    )
    return pl.concat([marked.filter(~pl.col("_walk")), walk]).drop("_walk").sort(_ROW)


def _mark(frame: pl.DataFrame, passes: TextRedaction) -> pl.DataFrame:
    """``_redact``'s passes in Polars: the redacted text, ``_exact``, and ``_walk`` for rule 3's walk."""
    text = pl.col(_TEXT)
    sensitive = frame[_TEXT].str.contains(passes.prefilter)
    plain = frame.filter(~sensitive).with_columns(
        text.alias(S.EVENT_ORIGINAL), pl.lit(False).alias("_exact"), pl.lit(False).alias("_walk")
    )
    secret = frame.filter(sensitive).with_columns(passes.redact(text).alias(S.EVENT_ORIGINAL))
    secret = secret.with_columns(passes.needs_exact(text, pl.col(S.EVENT_ORIGINAL)).alias("_exact"))
    secret = secret.with_columns((passes.match_details(text) & ~pl.col("_exact")).alias("_walk"))
    return pl.concat([plain, secret])


def _ambiguous(texts: pl.Series, decoded: pl.Series, projection: pl.Schema) -> pl.Series:
    """Rows that may hold a duplicate key among the fields decoded (they go to the exact path).

    Polars decodes first-wins; every JSON reader of ``event_original`` reads last-wins, which is the
    one rule waflens keeps (the exact path parses with orjson and stores the normalized text). Without
    a duplicate, a key that occurs in one place in a WAF record occurs at most once in its text and is
    non-null in the decoded row exactly when its value is not null; ``action`` occurs once more per rule
    result. A row whose counts differ (a duplicate, a value of the wrong shape, a key inside an unknown
    field) takes the exact path, which is right in every case: one regex count and one literal count.
    """
    request = [k for k in projection["httpRequest"].to_schema() if k in _ONCE]  # type: ignore[attr-defined]
    top = [k for k in projection if k in _ONCE]
    row, http = pl.col("_decoded").struct, pl.col("_decoded").struct.field("httpRequest").struct
    present = pl.sum_horizontal(
        *(row.field(k).is_not_null() for k in top), *(http.field(k).is_not_null() for k in request)
    )
    # keys with a value other than null (no other JSON value starts with n)
    once = pl.col("_text").str.count_matches('"(?:' + "|".join(top + request) + ')"\\s*:\\s*[^n\\s]')
    groups = row.field("ruleGroupList")
    rule_results = (
        groups.list.eval(pl.element().struct.field("terminatingRule").is_not_null()).list.sum().fill_null(0)
        + groups.list.eval(pl.element().struct.field("nonTerminatingMatchingRules").list.len())
        .list.sum()
        .fill_null(0)
        + row.field("nonTerminatingMatchingRules").list.len().fill_null(0)
    )
    actions = pl.col("_text").str.count_matches('"action":', literal=True)
    ambiguous = ((once != present) | (actions != rule_results + 1)).fill_null(True)
    rows = pl.DataFrame({"_text": texts, "_decoded": decoded})
    return on_slices(rows, lambda part: part.select(ambiguous)).to_series()


def _exact_path(
    rows: pl.DataFrame, redaction: Redaction, dtype: pl.Struct
) -> tuple[pl.DataFrame, list[RejectedRecord]]:
    """Records the fast path could not take, one by one: parse, redact exactly, coerce to shape."""
    names = (_ROW, S.DOC_ID, "source", "line", "part", S.EVENT_ORIGINAL)
    kept: dict[str, list[object]] = {name: [] for name in names}
    decode_texts: list[str] = []
    rejected: list[RejectedRecord] = []
    for row in rows.iter_rows(named=True):  # rare rows only: see the module docstring
        problem, value = _parse(row[_TEXT], redaction)
        if problem is not None:
            kind, reason, original = problem
            rejected.append(RejectedRecord(row["source"], row["line"], row["part"], kind, reason, original))
            continue
        row[S.EVENT_ORIGINAL] = orjson.dumps(value).decode()  # normalized: one key each, redacted
        for name, column in kept.items():
            column.append(row[name])
        decode_texts.append(orjson.dumps(_coerce(value, dtype)).decode())
    frame = pl.DataFrame(
        kept,
        schema={
            _ROW: pl.UInt32,
            S.DOC_ID: pl.String,
            "source": pl.String,
            "line": pl.Int64,
            "part": pl.Int64,
            S.EVENT_ORIGINAL: pl.String,
        },
    )
    decoded = pl.Series(decode_texts, dtype=pl.String).str.json_decode(dtype)
    return frame.with_columns(
        pl.lit(None, pl.String).alias(_TEXT), pl.lit(True).alias("_exact"), decoded.alias(_DECODE)
    ).select(_ROW, _TEXT, "source", "line", "part", S.DOC_ID, S.EVENT_ORIGINAL, "_exact", _DECODE), rejected


def _parse(text: str, redaction: Redaction) -> tuple[tuple[RejectKind, str, bytes] | None, object]:
    """The record parsed (last key wins) and redacted, or why it cannot be used and its redacted bytes."""
    data = text.encode()
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:  # orjson's message names a position, never the content
        return ("invalid_json", f"invalid JSON: {exc}", redact_bytes(redaction, data)), None
    try:
        redacted = redaction.redact_object(value)
    except TooDeep as exc:
        return ("too_deep", f"not a WAF record: {exc}", redact_bytes(redaction, data)), None
    if not isinstance(redacted, dict):
        kind: RejectKind = "not_an_object"
        return (kind, f"a JSON {type(value).__name__}, not a WAF record object", orjson.dumps(redacted)), None
    clash = [k for k in S.RESERVED_TOP_LEVEL if k in redacted]
    if clash:
        reason = f"the record already has a top-level {clash[0]!r} field, which waflens adds"
        return ("reserved_field", reason, orjson.dumps(redacted)), None
    return None, redacted


def _coerce(value: object, dtype: PolarsDataType) -> object:
    """``value`` in the JSON shapes ``dtype`` expects; a shape that does not fit becomes null."""
    if isinstance(dtype, pl.Struct):
        if not isinstance(value, dict):
            return None
        return {f.name: _coerce(value.get(f.name), f.dtype) for f in dtype.fields}
    if isinstance(dtype, pl.List):
        if value is None:
            return None
        if not isinstance(value, list):
            # a list of strings written as one string (Athena's DDL types oversizeFields so)
            return (
                [value]
                if not isinstance(value, dict) and not isinstance(dtype.inner, pl.Struct | pl.List)
                else None
            )
        return [_coerce(v, dtype.inner) for v in value]
    return None if isinstance(value, dict | list) else value


def _check_required(frame: pl.DataFrame, projection: pl.Schema) -> tuple[pl.DataFrame, list[RejectedRecord]]:
    """Cast to the typed schema and split off rows that lack a usable required field."""
    raw_ts = pl.col("timestamp")
    ts = raw_ts.cast(pl.Int64, strict=False)
    missing = [pl.when(pl.col(f).is_null()).then(pl.lit(f)) for f in S.REQUIRED_FIELDS]
    headers = pl.col("httpRequest").struct.field("headers").list.len()
    # reasons name the field and the problem, never the value (it is attacker-controlled content)
    bad_ts = (
        pl.when(
            raw_ts.is_not_null() & (ts.is_null() | (ts < S.MIN_TIMESTAMP_MS) | (ts >= S.MAX_TIMESTAMP_MS))
        )
        .then(pl.lit("timestamp is not epoch milliseconds between 2000 and 2100"))
        .when(headers > MAX_HEADERS)
        .then(pl.format("httpRequest.headers has {} headers, more than {}", headers, pl.lit(MAX_HEADERS)))
    )
    checked = frame.with_columns(
        pl.concat_str(missing, separator=", ", ignore_nulls=True).alias("_missing"),
        bad_ts.alias("_bad"),
        pl.when(headers > MAX_HEADERS)
        .then(pl.lit("oversize"))
        .otherwise(pl.lit("invalid_field"))
        .alias("_kind"),
    )
    problems = checked.filter(pl.col("_missing").ne("") | pl.col("_bad").is_not_null())
    rejected = [
        RejectedRecord(
            row["source"],
            row["line"],
            row["part"],
            "missing_field" if row["_missing"] else row["_kind"],
            f"missing required field(s): {row['_missing']}" if row["_missing"] else str(row["_bad"]),
            row[S.EVENT_ORIGINAL].encode(),
        )
        for row in problems.select(
            "source", "line", "part", "_missing", "_bad", "_kind", S.EVENT_ORIGINAL
        ).iter_rows(named=True)
    ]
    valid = checked.filter(pl.col("_missing").eq("") & pl.col("_bad").is_null()).drop(
        "_missing", "_bad", "_kind"
    )
    casts = {name: pl.col(name).cast(dtype, strict=False) for name, dtype in projection.items()}
    return valid.with_columns(**casts), rejected
