"""The functions' image: what is staged for it, what its Dockerfile installs, and that the handlers
import with waflens's runtime dependencies alone (what ``pip install`` puts in the image)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
import setuptools
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from enrich.geo import GeoIPFiles
from infra.app import stage_image
from infra.image import CONFIG_NAME, PACKAGES, stage
from infra.settings import DEFAULT_CONFIG, ROOT, InfraConfigError

HANDLERS = ("ingest.handlers.s3", "ingest.handlers.firehose", "ingest.handlers.cloudwatch")
# Run in a fresh interpreter: importing any of the ``forbidden`` top-level modules (those of installed
# distributions waflens does not depend on, and the repository's other packages) fails, as it would in
# an image holding only waflens and its runtime dependencies.
IMPORT_CHECK = """
import importlib.abc, sys
forbidden = set(sys.argv[1].split(","))
class OnlyRuntime(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.partition(".")[0]
        if top in forbidden:
            raise ModuleNotFoundError(f"{top} is not a runtime dependency of waflens", name=top)
        return None
sys.meta_path.insert(0, OnlyRuntime())
for handler in sys.argv[2:]:
    __import__(handler)
"""


def runtime_distributions() -> set[str]:
    """waflens's runtime requirements and theirs, with the extras each asks for; never waflens's own."""
    found: set[str] = set()
    pending: list[tuple[str, frozenset[str]]] = [("waflens", frozenset())]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, extras = pending.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        found.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in extras or {""}):
                pending.append((canonicalize_name(requirement.name), frozenset(requirement.extras)))
    return found - {"waflens"}


def runtime_modules() -> set[str]:
    """Top-level modules of the runtime distributions, and the packages the image installs."""
    distributions = runtime_distributions()
    owners = metadata.packages_distributions()
    modules = {m for m, dists in owners.items() if {canonicalize_name(d) for d in dists} & distributions}
    return modules | set(PACKAGES)


def import_handlers(allowed: set[str]) -> subprocess.CompletedProcess[str]:
    """Import the handlers where only ``allowed`` of the installed and repository modules exist."""
    installed = set(metadata.packages_distributions())
    forbidden = (installed | {"devtools", "infra", "tests"}) - allowed
    return subprocess.run(
        [sys.executable, "-c", IMPORT_CHECK, ",".join(sorted(forbidden)), *HANDLERS],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_handlers_import_with_the_runtime_dependencies_alone() -> None:
    allowed = runtime_modules()
    assert {"polars", "pyarrow", "aws_lambda_powertools", "aws_xray_sdk"} <= allowed
    assert not {"pytest", "moto", "aws_cdk", "devtools", "infra", "tests"} & allowed

    result = import_handlers(allowed)

    assert result.returncode == 0, result.stderr[-2000:]


def test_the_import_check_fails_when_a_dependency_is_missing() -> None:
    result = import_handlers(runtime_modules() - {"aws_xray_sdk"})

    assert result.returncode != 0
    assert "aws_xray_sdk is not a runtime dependency of waflens" in result.stderr


def test_the_image_folder_holds_only_what_the_image_needs(tmp_path: Path) -> None:
    folder = stage_image({}, tmp_path)
    files = [p.relative_to(folder) for p in folder.rglob("*") if p.is_file()]

    assert {p.parts[0] for p in files} == {"Dockerfile", "pyproject.toml", "README.md", "config", *PACKAGES}
    assert not [p for p in files if "__pycache__" in p.parts or p.suffix == ".pyc" or p.name.startswith(".")]
    assert (folder / "config" / CONFIG_NAME).read_bytes() == (ROOT / DEFAULT_CONFIG).read_bytes()
    assert sum((folder / p).stat().st_size for p in files) < 5 * 1024 * 1024


def test_pip_finds_only_the_staged_packages_where_devtools_is_absent(tmp_path: Path) -> None:
    find = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    include = find["packages"]["find"]["include"]
    folder = stage_image({}, tmp_path)

    staged = setuptools.find_packages(where=str(folder), include=include)
    everything = setuptools.find_packages(where=str(ROOT), include=include)

    assert {p.split(".")[0] for p in staged} == set(PACKAGES)
    assert {p.split(".")[0] for p in everything} == {*PACKAGES, "devtools", "infra"}
    assert set(staged) == {p for p in everything if p.split(".")[0] in PACKAGES}


def test_the_dockerfile_installs_the_staged_packages_on_python_3_12() -> None:
    dockerfile = (ROOT / "infra" / "Dockerfile").read_text(encoding="utf-8")

    assert re.search(r"^FROM public\.ecr\.aws/lambda/python:3\.12$", dockerfile, re.MULTILINE)
    copied = re.findall(r"^COPY (\w+) /tmp/waflens/\1$", dockerfile, re.MULTILINE)
    assert tuple(copied) == PACKAGES
    assert 'pip install --no-cache-dir --target "${LAMBDA_TASK_ROOT}" /tmp/waflens ' in dockerfile
    assert "devtools" not in re.sub(r"^#.*$", "", dockerfile, flags=re.MULTILINE)
    assert "[test]" not in dockerfile


def test_geoip_databases_named_by_the_config_are_shipped_beside_it(tmp_path: Path) -> None:
    (tmp_path / "geo").mkdir()
    (tmp_path / "geo" / "city.mmdb").write_bytes(b"mmdb")
    config = tmp_path / "waflens.toml"
    config.write_text('[geoip]\ncity = "geo/city.mmdb"\n', encoding="utf-8")
    into = tmp_path / "image"
    into.mkdir()

    stage(ROOT, config, GeoIPFiles(city="geo/city.mmdb"), into)

    assert (into / "config" / "geo" / "city.mmdb").read_bytes() == b"mmdb"
    for path in ("/srv/city.mmdb", "../city.mmdb", "geo/missing.mmdb"):
        elsewhere = tmp_path / f"image-{abs(hash(path))}"
        elsewhere.mkdir()
        with pytest.raises(InfraConfigError, match=r"geoip\.city"):
            stage(ROOT, config, GeoIPFiles(city=path), elsewhere)
