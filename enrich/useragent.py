"""The ``User-Agent`` header parsed into browser, version, OS and device with ua-parser's own rules.

Each distinct value of a batch is parsed once (``enrich.distinct``), and parses are kept in a bounded
LRU across batches, so a warm Lambda does not parse the same agents again.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import takewhile
from typing import Final, TypedDict

import polars as pl
import ua_parser

from enrich.distinct import per_distinct

# Real user agents are a few hundred characters; a hostile one is cut before parsing so its cost is bounded.
MAX_PARSED_CHARS: Final = 512
CACHE_SIZE: Final = 8192  # entries of at most MAX_PARSED_CHARS: a few MB at worst
SPIDER: Final = "Spider"  # ua-parser's device family for crawlers and other bots
BOT_LABEL: Final = "awswaf:managed:aws:bot-control:bot:"  # Bot Control's labels for a detected bot
PARSED: Final = pl.Struct(
    {
        "browser": pl.String,
        "browser_version": pl.String,
        "os": pl.String,
        "device": pl.String,
        "spider": pl.Boolean,
    }
)


class ParsedAgent(TypedDict):
    """What ua-parser says about one user agent (null where its rules found nothing)."""

    browser: str | None
    browser_version: str | None
    os: str | None
    device: str | None
    spider: bool


@lru_cache(maxsize=CACHE_SIZE)
def parse_user_agent(text: str) -> ParsedAgent:
    """One user agent (already cut to ``MAX_PARSED_CHARS``), parsed; cached across batches."""
    result = ua_parser.parse(text)
    agent, device = result.user_agent, result.device
    parts = (agent.major, agent.minor, agent.patch, agent.patch_minor) if agent else ()
    version = [p for p in takewhile(bool, parts) if p]  # 131.0.0.0, 18.1, 8.5.0
    return {
        "browser": agent.family if agent else None,
        "browser_version": ".".join(version) or None,
        "os": result.os.family if result.os else None,
        "device": device.family if device else None,
        "spider": device is not None and device.family == SPIDER,
    }


def cut(user_agent: pl.Expr) -> pl.Expr:
    """The part of a user agent that is parsed."""
    return user_agent.str.slice(0, MAX_PARSED_CHARS)


def _parse_column(values: pl.Series) -> pl.Series:
    return per_distinct(values, parse_user_agent, PARSED)


def parsed_expr(user_agent: pl.Expr) -> pl.Expr:
    """``PARSED`` for each row: ua-parser's answer for the (cut) user agent, once per distinct value.

    Make it a column before reading its fields: Polars runs a Python function once per use.
    """
    return cut(user_agent).map_batches(_parse_column, return_dtype=PARSED)


def ua_expr(parsed: pl.Expr, labels: pl.Expr) -> pl.Expr:
    """``schema.USER_AGENT`` from a ``parsed_expr`` column: ``bot`` when ua-parser calls the agent a
    spider or Bot Control labelled the request a bot (``awswaf:managed:aws:bot-control:bot:*``)."""
    labelled = labels.list.eval(pl.element().str.starts_with(BOT_LABEL)).list.any().fill_null(False)
    return pl.struct(
        *(parsed.struct.field(f) for f in ("browser", "browser_version", "os", "device")),
        (parsed.struct.field("spider").fill_null(False) | labelled).alias("bot"),
    )
