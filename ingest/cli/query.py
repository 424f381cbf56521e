"""``waflens query`` and ``waflens explain``: the events an incident responder asks for, from a local lake
or from OpenSearch, with the same filters and the same output either way.

stdout carries the events only (a table, CSV, JSON lines or explanation pages), so it can be piped or
saved; the summary line (a JSON object: events, truncated) goes to stderr.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import orjson
from opensearchpy.exceptions import OpenSearchException

from enrich.config import DEFAULT_INDEX_PREFIX, ConfigError
from ingest.cli.alerts import moment
from ingest.query.explain import explain, text_page
from ingest.query.filters import ACTIONS, Filters, network
from ingest.query.hits import DOCUMENT, Found, render
from ingest.query.lake import search_lake
from ingest.query.opensearch import search_opensearch
from ingest.sinks.opensearch.client import Endpoint, make_client

DEFAULT_LIMIT: Final = 100
MAX_LIMIT: Final = 100_000
EXPLAIN_LIMIT: Final = 50  # a request WAF logged more than this many times is not one request
DEFAULT_INDEX: Final = f"{DEFAULT_INDEX_PREFIX}-*"
EXIT_FOUND, EXIT_FAILED, EXIT_NOT_FOUND = 0, 1, 5
TIME_HELP: Final = "ISO 8601 time, or a span before now: 2h, 30m, 7d"

ClusterOptions = Callable[[argparse.ArgumentParser], None]


def _add_source(parser: argparse.ArgumentParser, cluster_options: ClusterOptions) -> None:
    parser.add_argument("--lake", type=Path, metavar="DIR", help="read a local lake folder")
    cluster_options(parser)  # --opensearch URL and how to authenticate
    parser.add_argument(
        "--index", default=DEFAULT_INDEX, metavar="PATTERN", help="with --opensearch: the indices to search"
    )


def add_parser(
    commands: Any, cluster_options: ClusterOptions
) -> None:  # argparse's _SubParsersAction is private
    """Register ``query`` and ``explain`` on the ``waflens`` sub-command parsers."""
    formatter = argparse.ArgumentDefaultsHelpFormatter
    query: argparse.ArgumentParser = commands.add_parser(
        "query", help="find events by IP, rule, request id, time...", formatter_class=formatter
    )
    _add_source(query, cluster_options)
    query.add_argument("--ip", metavar="IP|CIDR", help="client address or block, IPv4 or IPv6")
    query.add_argument("--rule", metavar="ID", help="terminating rule, or any rule that matched")
    query.add_argument("--request-id", metavar="ID", help="httpRequest.requestId")
    query.add_argument(
        "--action", action="append", type=str.upper, choices=ACTIONS, help="terminating action (repeatable)"
    )
    query.add_argument("--web-acl", metavar="NAME", help="web ACL name")
    query.add_argument("--account", metavar="ID", help="the web ACL's 12-digit AWS account id")
    query.add_argument(
        "--team", metavar="T", help="the account's team, or the team owning the deciding rule group"
    )
    query.add_argument("--since", metavar="T", help=f"from this time on: {TIME_HELP}")
    query.add_argument("--until", metavar="T", help=f"before this time: {TIME_HELP}")
    query.add_argument(
        "--text", metavar="S", help="case-insensitive substring of the URI, query string or user agent"
    )
    query.add_argument("--format", choices=["table", "json", "csv"], default="table", help="output")
    query.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help="at most this many events, newest first"
    )

    why: argparse.ArgumentParser = commands.add_parser(
        "explain",
        help="why WAF decided what it did for one request, and who owns that rule",
        formatter_class=formatter,
    )
    why.add_argument("request_id", metavar="REQUEST_ID", help="httpRequest.requestId")
    _add_source(why, cluster_options)
    why.add_argument("--format", choices=["text", "json"], default="text", help="a page to paste, or JSON")


def filters_from(args: argparse.Namespace, now: datetime) -> Filters:
    """The filter model from the command line; each mistake is one sentence naming the option."""
    return Filters(
        ip=network(args.ip) if args.ip is not None else None,
        rule=args.rule,
        request_id=args.request_id,
        actions=tuple(args.action or ()),
        web_acl=args.web_acl,
        account=args.account,
        team=args.team,
        since=moment(args.since, "--since", now) if args.since is not None else None,
        until=moment(args.until, "--until", now) if args.until is not None else None,
        text=args.text,
    )


def _search(args: argparse.Namespace, endpoint: Endpoint | None, filters: Filters, limit: int) -> Found:
    if (args.lake is None) == (endpoint is None):
        raise ConfigError(f"{args.command} needs exactly one of --lake DIR or --opensearch URL")
    if args.lake is not None:
        return search_lake(args.lake, filters, limit=limit)
    assert endpoint is not None
    try:
        return search_opensearch(make_client(endpoint), args.index, filters, limit=limit)
    except OpenSearchException as exc:
        # The status and error type only: a cluster's error text can quote the query back.
        status = getattr(exc, "status_code", None)
        raise SearchFailed(
            f"the search on {endpoint.url} failed: {type(exc).__name__} {status or ''}".strip()
        ) from exc


class SearchFailed(Exception):
    """OpenSearch did not answer the search (unreachable, refused, an error); worth trying again."""


def _summary(**values: object) -> None:
    sys.stderr.write(orjson.dumps(values).decode() + "\n")


def run(args: argparse.Namespace, endpoint: Endpoint | None, *, now: datetime | None = None) -> int:
    """``waflens query``: print the events found, then the summary on stderr; 0 when the search ran."""
    if not 1 <= args.limit <= MAX_LIMIT:
        raise ConfigError(f"--limit must be between 1 and {MAX_LIMIT}")
    filters = filters_from(args, now or datetime.now(UTC))
    try:
        found = _search(args, endpoint, filters, args.limit)
    except SearchFailed as exc:
        sys.stderr.write(f"waflens: {exc}\n")
        return EXIT_FAILED
    sys.stdout.write(render(found, args.format))
    _summary(events=found.hits.height, truncated=found.truncated, limit=args.limit)
    return EXIT_FOUND


def run_explain(args: argparse.Namespace, endpoint: Endpoint | None) -> int:
    """``waflens explain``: one page (or JSON line) per event logged for the request; 5 when none was."""
    try:
        found = _search(args, endpoint, Filters(request_id=args.request_id), EXPLAIN_LIMIT)
    except SearchFailed as exc:
        sys.stderr.write(f"waflens: {exc}\n")
        return EXIT_FAILED
    pages = [explain(doc, doc_id) for doc_id, doc in found.hits.select("_id", DOCUMENT).iter_rows()]
    if args.format == "json":
        sys.stdout.write("".join(orjson.dumps(page).decode() + "\n" for page in pages))
    else:
        sys.stdout.write("\n---\n\n".join(text_page(page) for page in pages))
    _summary(events=len(pages), truncated=found.truncated)
    if not pages:
        sys.stderr.write(f"waflens: no event has request id {args.request_id!r}\n")
        return EXIT_NOT_FOUND
    return EXIT_FOUND


# The sub-commands this module runs, each given the parsed arguments and the cluster (None for --lake).
COMMANDS: Final[dict[str, Callable[[argparse.Namespace, Endpoint | None], int]]] = {
    "query": run,
    "explain": run_explain,
}
