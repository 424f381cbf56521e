"""Synthesis: context in, a cloud assembly (CloudFormation templates and the image's build folder) out.

Offline by construction: the stack is environment-agnostic (no account or region lookups), assets are
only staged, and nothing calls Docker or AWS.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk

from infra.deployment import ConfigFacts
from infra.image import stage
from infra.settings import ROOT, InfraSettings
from infra.stack import WaflensStack


@dataclass(frozen=True)
class Synthesis:
    """The templates written, and what the deployer must still do."""

    templates: list[Path]
    notices: list[str]


def build(app: cdk.App, context: Mapping[str, object], image: Path, *, root: Path = ROOT) -> WaflensStack:
    """The stack ``context`` describes, in ``app``; its image is built from ``image`` (``stage_image``)."""
    settings = InfraSettings.from_context(context, root=root)
    return WaflensStack(app, settings, ConfigFacts.load(settings.config), image)


def stage_image(context: Mapping[str, object], into: Path, *, root: Path = ROOT) -> Path:
    """The image's build folder for ``context``, staged in the empty folder ``into``."""
    settings = InfraSettings.from_context(context, root=root)
    return stage(root, settings.config, ConfigFacts.load(settings.config).geoip, into)


def synthesize(out: Path, context: Mapping[str, object], *, root: Path = ROOT) -> Synthesis:
    """Write the cloud assembly to ``out``; ``InfraConfigError`` names a bad context value."""
    with tempfile.TemporaryDirectory(prefix="waflens-image-") as folder:
        image = stage_image(context, Path(folder), root=root)
        app = cdk.App(outdir=str(out), analytics_reporting=False)
        stack = build(app, context, image, root=root)
        assembly = app.synth()  # copies the staged folder into the assembly, named by its hash
    return Synthesis([Path(out) / s.template_file for s in assembly.stacks], stack.notices)
