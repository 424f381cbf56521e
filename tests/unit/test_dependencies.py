"""Dependencies point one way (DESIGN.md): the runtime packages never import tooling, tests or infra,
and neither the tooling nor the CDK app imports the other.

An ``ast`` walk over every ``.py`` file of each package, counting ``import x`` and ``from x import y``
anywhere in the file (inside functions too), with relative imports resolved against the package.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# package -> top-level modules it must never import
FORBIDDEN: dict[str, frozenset[str]] = {
    "enrich": frozenset(
        {"ingest", "dashboards", "devtools", "infra", "tests", "boto3", "botocore", "opensearchpy"}
    ),
    "dashboards": frozenset({"ingest", "devtools", "infra", "tests"}),
    "ingest": frozenset({"devtools", "infra", "tests"}),
    "devtools": frozenset({"infra", "tests"}),
    # the CDK app may read ingest.environment, enrich.schema and the config reader (so it cannot drift
    # from the handlers), never the tooling
    "infra": frozenset({"devtools", "tests"}),
}


@dataclass(frozen=True)
class Violation:
    """One forbidden import: where it is and what it names."""

    path: str
    line: int
    module: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.module}"


def _imported(node: ast.Import | ast.ImportFrom, package: str) -> list[str]:
    """The absolute module names ``node`` imports; ``package`` is where relative imports start."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level == 0:
        return [node.module or ""]
    parts = package.split(".")
    base = parts[: len(parts) - (node.level - 1)] if node.level - 1 < len(parts) else []
    if node.module:
        return [".".join([*base, node.module])]
    # ``from . import x``: each name may be a module of the base package (or a top-level one past the root)
    return [".".join([*base, alias.name]) for alias in node.names]


def forbidden_imports(source: str, *, path: str, module: str, forbidden: frozenset[str]) -> list[Violation]:
    """Each import in ``source`` (file ``path``, module ``module``) of a top-level name in ``forbidden``."""
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import | ast.ImportFrom):
            for name in _imported(node, package):
                if name.split(".")[0] in forbidden:
                    found.append(Violation(path, node.lineno, name))
    return sorted(found, key=lambda v: (v.path, v.line, v.module))


def _modules(package: str) -> list[tuple[Path, str]]:
    files = sorted((ROOT / package).rglob("*.py"))
    return [(f, ".".join(f.relative_to(ROOT).with_suffix("").parts)) for f in files]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_runtime_packages_import_nothing_they_must_not(package: str) -> None:
    modules = _modules(package)
    assert len(modules) > 1, f"{package}: no modules found, the check would pass vacuously"
    violations = [
        v
        for file, module in modules
        for v in forbidden_imports(
            file.read_text(encoding="utf-8"),
            path=str(file.relative_to(ROOT)),
            module=module,
            forbidden=FORBIDDEN[package],
        )
    ]
    assert violations == [], "\n".join(map(str, violations))


def test_the_check_reaches_modules_in_sub_packages() -> None:
    modules = {module for _, module in _modules("ingest")}

    assert {"ingest.sources.local", "ingest.decode.records", "ingest.sinks.opensearch.service"} <= modules
    assert "ingest.cli.main" in modules


def test_forbidden_imports_are_reported_with_file_and_line_wherever_they_sit() -> None:
    source = "\n".join(
        [
            "from __future__ import annotations",  # 1
            "import polars as pl",  # 2
            "from devtools.generate import iter_records",  # 3: top level
            "from enrich import schema",  # 4: allowed
            "",  # 5
            "def helper() -> None:",  # 6
            "    import tests.support.samples",  # 7: inside a function
            "    from ..devtools import bench",  # 8: relative, past the package
            "    from . import run",  # 9: ingest.run, allowed
        ]
    )

    found = forbidden_imports(
        source, path="ingest/evil.py", module="ingest.evil", forbidden=FORBIDDEN["ingest"]
    )

    assert [(v.path, v.line, v.module) for v in found] == [
        ("ingest/evil.py", 3, "devtools.generate"),
        ("ingest/evil.py", 7, "tests.support.samples"),
        ("ingest/evil.py", 8, "devtools"),
    ]


def test_relative_imports_resolve_against_the_importing_package() -> None:
    source = "from .. import ingest\nfrom ..dashboards.cluster import setup_requests\n"

    def found(path: str, module: str) -> list[str]:
        return [
            str(v) for v in forbidden_imports(source, path=path, module=module, forbidden=FORBIDDEN["enrich"])
        ]

    # inside enrich.sub, ``..`` is enrich: these name enrich.ingest and enrich.dashboards, both allowed
    assert found("enrich/sub/__init__.py", "enrich.sub") == []
    assert found("enrich/sub/mod.py", "enrich.sub.mod") == []
    # directly inside enrich, ``..`` is past the package: these name the top-level ingest and dashboards
    assert found("enrich/mod.py", "enrich.mod") == [
        "enrich/mod.py:1 imports ingest",
        "enrich/mod.py:2 imports dashboards.cluster",
    ]
