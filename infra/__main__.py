"""``python -m infra --out DIR [--context KEY=VALUE]...``: synthesize the stack, print its templates."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def main(argv: Sequence[str] | None = None) -> int:
    """Synthesize into ``--out``; exit 2 with one sentence when a context value is wrong."""
    parser = argparse.ArgumentParser(
        prog="python -m infra",
        description="Synthesize the waflens CDK app offline (no AWS account, network or Docker).",
    )
    parser.add_argument("--out", type=Path, required=True, help="the cloud assembly folder (cdk.out)")
    parser.add_argument(
        "--context", "-c", action="append", default=[], metavar="KEY=VALUE",
        help="a context value (repeatable); the README's Deploy section lists the keys",
    )  # fmt: skip
    args = parser.parse_args(argv)
    context: dict[str, object] = {}
    for item in args.context:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--context {item!r} is not KEY=VALUE")
        context[key.strip()] = value

    from infra.deployment import ConfigFacts  # noqa: PLC0415
    from infra.settings import InfraConfigError, InfraSettings  # noqa: PLC0415

    try:
        ConfigFacts.load(InfraSettings.from_context(context).config)  # mistakes first, before Node.js starts
        from infra.app import synthesize  # noqa: PLC0415  # starts jsii (Node.js)

        result = synthesize(args.out, context)
    except InfraConfigError as exc:
        print(f"python -m infra: {exc}", file=sys.stderr)
        return 2
    for notice in result.notices:
        print(f"python -m infra: note: {notice}", file=sys.stderr)
    for template in result.templates:
        print(template)
    return 0


if __name__ == "__main__":
    sys.exit(main())
