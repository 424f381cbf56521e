"""``python -m infra`` as a deployer runs it: offline, without Docker, templates cfn-lint accepts.

cfn-lint runs with W3005 ignored, and only that: it flags a DependsOn that a reference already implies,
which CDK writes on purpose (a function's role must have its policy before the function exists).
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from cfnlint.api import ManualArgs, lint_file

from infra.settings import ROOT
from tests.support.infra import Synthesized

LINT = ManualArgs(regions=["us-east-1", "eu-west-1"], ignore_checks=["W3005"])


def fake_docker(folder: Path) -> Path:
    """A ``docker`` that records being called and fails: synthesis must never call it."""
    folder.mkdir()
    docker = folder / "docker"
    docker.write_text(f'#!/bin/sh\necho "$@" >> {folder / "called"}\nexit 1\n', encoding="utf-8")
    docker.chmod(docker.stat().st_mode | stat.S_IEXEC)
    return folder


def synthesize(out: Path, bin_dir: Path, *context: str) -> subprocess.CompletedProcess[str]:
    path = os.pathsep.join([str(bin_dir), os.environ.get("PATH", "")])
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("CDK_DEFAULT_ACCOUNT",)
    }
    # no credentials, and a proxy that refuses every connection: a lookup or a download would fail
    environment |= {"PATH": path, "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    arguments = [a for item in context for a in ("--context", item)]
    return subprocess.run(
        [sys.executable, "-m", "infra", "--out", str(out), *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_synthesis_is_offline_never_calls_docker_and_passes_cfn_lint(tmp_path: Path) -> None:
    bin_dir = fake_docker(tmp_path / "bin")
    out = tmp_path / "cdk.out"

    result = synthesize(out, bin_dir)

    assert result.returncode == 0, result.stderr[-3000:]
    templates = [Path(line) for line in result.stdout.splitlines()]
    assert templates == [out / "waflens.template.json"]
    assert not (bin_dir / "called").exists(), "synthesis called docker"
    assets = json.loads((out / "waflens.assets.json").read_text(encoding="utf-8"))
    (image,) = assets["dockerImages"].values()
    folder = out / image["source"]["directory"]
    assert (folder / "Dockerfile").is_file()
    assert not (folder / ".venv").exists()
    assert not (folder / "tests").exists()
    assert not (folder / "devtools").exists()
    assert "note:" in result.stderr  # the example config does not map these roles to the writer
    for template in templates:
        assert [str(m) for m in lint_file(template, config=LINT)] == []


def test_a_wrong_context_value_exits_2_with_one_sentence(tmp_path: Path) -> None:
    result = synthesize(tmp_path / "cdk.out", fake_docker(tmp_path / "bin"), "accounts=12345")

    assert result.returncode == 2
    assert (
        result.stderr.strip() == "python -m infra: context accounts: '12345' is not a 12-digit AWS account id"
    )
    assert result.stdout == ""


def test_the_deployment_with_every_option_passes_cfn_lint(
    infra: dict[str, Synthesized], tmp_path: Path
) -> None:
    # with the default one, it holds every resource type the app makes (SAML, subscription, anomaly bands)
    template = tmp_path / "full.template.json"
    template.write_text(json.dumps(infra["full"].json), encoding="utf-8")

    assert [str(m) for m in lint_file(template, config=LINT)] == []
