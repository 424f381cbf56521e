"""The functions' container image: a small build folder staged at synth time, built by CDK at deploy.

Synthesis copies the folder into the cloud assembly and names it by a hash of its content; nothing runs
Docker until ``cdk deploy`` publishes the asset. Only what the image needs is staged (never ``.venv``,
``.git``, ``tests`` or ``devtools``), so the asset stays small and its hash changes only with them.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath
from typing import Final

from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_lambda as lambda_

from enrich.geo import GEOIP_KEYS, GeoIPFiles
from infra.settings import InfraConfigError

PACKAGES: Final = ("ingest", "enrich", "dashboards")  # what the handlers import; devtools stays out
PROJECT_FILES: Final = ("pyproject.toml", "README.md")  # what pip needs to build waflens
TASK_ROOT: Final = "/var/task"  # LAMBDA_TASK_ROOT of AWS's Python base images
CONFIG_NAME: Final = "waflens.toml"
CONFIG_PATH: Final = f"{TASK_ROOT}/{CONFIG_NAME}"  # WAFLENS_CONFIG in every function
_SKIP: Final = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


def stage(root: Path, config: Path, geoip: GeoIPFiles, into: Path) -> Path:
    """Copy the image's build folder into ``into`` (empty) and return it.

    ``config`` becomes ``waflens.toml`` beside the handlers, and each GeoIP database it names is copied
    to the same path relative to it, so the functions open the files ``waflens setup`` was given.
    """
    shutil.copyfile(root / "infra" / "Dockerfile", into / "Dockerfile")
    for name in PROJECT_FILES:
        shutil.copyfile(root / name, into / name)
    for package in PACKAGES:
        shutil.copytree(root / package, into / package, ignore=_SKIP, copy_function=shutil.copyfile)
    shipped = into / "config"
    shipped.mkdir()
    shutil.copyfile(config, shipped / CONFIG_NAME)
    for key in GEOIP_KEYS:
        path: str | None = getattr(geoip, key)
        if path is not None:
            relative = _relative(path, key)
            if not (config.parent / relative).is_file():
                raise InfraConfigError(f"config geoip.{key}: {config.parent / relative} is not a file")
            (shipped / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(config.parent / relative, shipped / relative)
    return into


def handler_code(folder: Path, handler: str) -> lambda_.DockerImageCode:
    """The image built from ``folder`` running ``handler`` (``ingest.handlers.s3.handler``)."""
    return lambda_.DockerImageCode.from_image_asset(
        str(folder), cmd=[handler], platform=ecr_assets.Platform.LINUX_AMD64
    )


def _relative(path: str, key: str) -> PurePosixPath:
    relative = PurePosixPath(path)
    if relative.is_absolute() or ".." in relative.parts:
        raise InfraConfigError(
            f"config geoip.{key} {path!r}: name the database relative to the config file, inside its "
            "folder, so it can be shipped with it"
        )
    return relative
