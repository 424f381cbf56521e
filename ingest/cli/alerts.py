"""``waflens alerts``: what the alert rules would have fired over a local lake, one JSON line per alert.

The rules are the config file's ``[alerts]`` (the same ones ``waflens setup`` renders as monitors); the
last line of stdout is a summary object, like every other command.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

import orjson
import polars as pl

from dashboards.alerts.evaluate import evaluate
from dashboards.alerts.rules import AlertRules
from enrich.config import ConfigError
from ingest.backfill import parse_time
from ingest.config_file import load_document
from ingest.sinks.lake import scan_lake

DEFAULT_SPAN: Final = timedelta(hours=24)
_RELATIVE: Final = re.compile(r"(\d+)([smhd])")
_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_parser(commands: Any) -> None:  # argparse's _SubParsersAction is private
    """Register ``alerts`` on the ``waflens`` sub-command parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "alerts", help="evaluate the alert rules over a local lake: what would have fired"
    )
    parser.add_argument("--lake", required=True, type=Path, metavar="DIR", help="the lake folder")
    parser.add_argument(
        "--since", metavar="T", help="ISO 8601 time, or 2h / 30m / 7d ago (default: until - 24h)"
    )
    parser.add_argument("--until", metavar="T", help="ISO 8601 time, or 2h / 30m / 7d ago (default: now)")
    parser.add_argument("--config", type=Path, help="config file (TOML or JSON) with [alerts]")
    parser.add_argument(
        "--format", choices=["json", "table"], default="json", help="one JSON line per alert, or a table"
    )


def moment(text: str, option: str, now: datetime) -> datetime:
    """``text`` as a UTC time: ISO 8601, or a span before ``now`` (``2h``, ``30m``, ``7d``)."""
    relative = _RELATIVE.fullmatch(text.strip())
    if relative is not None:
        return now - timedelta(seconds=int(relative.group(1)) * _SECONDS[relative.group(2)])
    return parse_time(text, option)


def run(args: argparse.Namespace, *, now: datetime | None = None) -> int:
    """Print each alert that would have fired in [since, until), then the summary; 0 when it ran."""
    now = now or datetime.now(UTC)
    until = moment(args.until, "--until", now) if args.until else now
    since = moment(args.since, "--since", now) if args.since else until - DEFAULT_SPAN
    if since >= until:
        raise ConfigError("--since must be before --until")
    rules = load_rules(args.config)
    lake: Path = args.lake
    if not lake.is_dir():
        raise ConfigError(f"--lake {str(lake)!r} is not a folder")
    has_files = next(lake.rglob("*.parquet"), None) is not None
    fired = (
        evaluate(scan_lake(lake, each_id_once=False), rules, since=since, until=until) if has_files else None
    )
    rows = [] if fired is None else fired.to_dicts()
    if args.format == "table" and fired is not None and rows:
        with pl.Config(tbl_rows=-1, tbl_cols=-1, tbl_width_chars=200, tbl_hide_dataframe_shape=True):
            sys.stdout.write(f"{fired}\n")
    elif args.format == "json":
        for row in rows:
            sys.stdout.write(orjson.dumps(row).decode() + "\n")
    summary = {
        "alerts": len(rows),
        "by_rule": dict(sorted(Counter(str(r["rule"]) for r in rows).items())),
        "since": since.isoformat(),
        "until": until.isoformat(),
        "rules": [rule.name for rule in rules.rules],
    }
    sys.stdout.write(orjson.dumps(summary).decode() + "\n")
    return 0


def load_rules(path: Path | None) -> AlertRules:
    """The ``[alerts]`` rules of the config file (the defaults without one); ConfigError names the file."""
    try:
        return AlertRules.from_mapping(load_document(path))
    except ConfigError as exc:
        raise ConfigError(
            f"{path}: {exc}" if path and not str(exc).startswith(str(path)) else str(exc)
        ) from exc
