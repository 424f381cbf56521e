"""``waflens setup``: apply (or render) everything waflens puts on a cluster, idempotently.

``main`` prints the report as the last line of stdout and turns it into the exit code.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from dashboards.registry import SetupContent, setup_content
from enrich.config import ConfigError
from ingest.config_file import load_document
from ingest.setup import SetupReport, apply_all, connect, render
from ingest.sinks.opensearch.client import Endpoint, make_client

# What ``--only`` selects: parts of the content by the kind of request (saved objects are their own part).
PARTS: Final = {
    "indices": frozenset({"index-template", "ism-policy"}),
    "security": frozenset({"tenant", "role", "role-mapping"}),
    "alerting": frozenset({"monitor", "detector"}),
    "saved-objects": frozenset(),
}


def add_parser(commands: Any, add_cluster_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register ``setup`` on the ``waflens`` sub-command parsers."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "setup",
        help="apply (or render) the index template, retention, security, alerts and saved objects",
    )
    parser.add_argument("--config", type=Path, help="config file ([index], [retention], ...)")
    parser.add_argument(
        "--render", type=Path, metavar="DIR", help="write the requests as files, send nothing"
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=sorted(PARTS),
        metavar="PART",
        help=f"apply (or render) only these parts, repeatable: {', '.join(sorted(PARTS))} (default: all)",
    )
    add_cluster_options(parser)
    parser.add_argument(
        "--dashboards",
        metavar="URL",
        help="OpenSearch Dashboards for the saved objects (on AWS: https://DOMAIN/_dashboards)",
    )
    parser.add_argument(
        "--replace-changed",
        action="store_true",
        help="overwrite saved objects a user changed, after writing their copies to a backup file",
    )
    parser.add_argument(
        "--backup-dir",
        type=Path,
        default=Path(),
        metavar="DIR",
        help="where --replace-changed writes its backup (default: the current folder)",
    )


def load_content(config: Path | None) -> SetupContent:
    """The content the config file describes; ConfigError names the file."""
    doc = load_document(config)
    try:
        return setup_content(doc)
    except ConfigError as exc:
        raise ConfigError(f"{config}: {exc}") from exc


def only(content: SetupContent, parts: list[str] | None) -> SetupContent:
    """``content`` restricted to ``parts`` (None: everything), e.g. the index template and retention alone
    for a cluster without the security or alerting plugins, or for a user who may not change roles."""
    if not parts:
        return content
    kinds = frozenset().union(*(PARTS[part] for part in parts))
    return dataclasses.replace(
        content,
        requests=tuple(r for r in content.requests if r.kind in kinds),
        saved_objects=content.saved_objects if "saved-objects" in parts else (),
    )


def render_files(args: argparse.Namespace, content: SetupContent) -> list[str]:
    """Write every request and the saved objects under ``--render``; the paths written."""
    return [str(path) for path in render(content, args.render)]


def apply(args: argparse.Namespace, content: SetupContent, endpoint: Endpoint) -> SetupReport:
    """Apply ``content`` to the cluster ``endpoint`` names (and its Dashboards when ``--dashboards``)."""
    if args.replace_changed and args.dashboards is None:
        raise ConfigError("--replace-changed applies to saved objects and needs --dashboards URL")
    dashboards = connect(args.dashboards, endpoint) if args.dashboards is not None else None
    objects = content.saved_objects if dashboards is not None else ()
    if content.saved_objects and dashboards is None:
        sys.stderr.write(
            f"waflens: {len(content.saved_objects)} saved objects not applied: pass --dashboards URL\n"
        )
    return apply_all(
        make_client(endpoint),
        content.requests,
        dashboards=dashboards,
        objects=objects,
        tenant=content.tenant,
        replace_changed=args.replace_changed,
        backup_dir=args.backup_dir,
    )


def warn_kept(report: SetupReport) -> None:
    """One stderr line per saved object left as a user changed it, and the way out."""
    for changed in report.changed_on_cluster:
        sys.stderr.write(
            f"waflens: {changed.type} {changed.id} ({changed.title!r}) was changed on the cluster "
            "and was not updated\n"
        )
    if report.changed_on_cluster:
        sys.stderr.write("waflens: rerun with --replace-changed to back them up and overwrite them\n")
    if report.backup is not None:
        sys.stderr.write(f"waflens: the replaced objects' previous copies are in {report.backup}\n")
