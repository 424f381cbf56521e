"""The command line as a person meets it: help with defaults, a version, a warning for empty inputs, and
permanent mistakes reported as usage errors (exit 2) before any work, never as "retry" afterwards."""

from __future__ import annotations

import os
import re
from importlib.metadata import version
from pathlib import Path

import orjson
import pytest

from ingest.cli.main import main
from tests.support.samples import sample

EMPTY_WARNING = "waflens: the inputs held no WAF records\n"


def help_text(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--help"])
    assert exited.value.code == 0
    return capsys.readouterr().out


def option_entries(text: str) -> dict[str, str]:
    """Each option of a help page and its whole (wrapped) help text, by its first name."""
    section = text.split("\noptions:\n", 1)[1]
    entries: dict[str, str] = {}
    for block in re.split(r"\n(?=  -)", section):
        names = block.strip().split()[0].rstrip(",")
        entries[names] = " ".join(block.split())
    return entries


def commands(capsys: pytest.CaptureFixture[str]) -> list[str]:
    listed = re.search(r"\{([a-z,-]+)\}", help_text([], capsys))
    assert listed is not None
    return listed.group(1).split(",")


def test_help_shows_every_options_default(capsys: pytest.CaptureFixture[str]) -> None:
    names = commands(capsys)
    assert {"ingest", "setup", "backfill", "alerts", "compact"} <= set(names)
    for command in names:
        entries = option_entries(help_text([command], capsys))
        missing = [
            name
            for name, entry in entries.items()
            if name != "-h" and "(default" not in entry and "(required)" not in entry
        ]
        assert missing == [], f"waflens {command} --help: no default shown for {missing}"
    ingest = option_entries(help_text(["ingest"], capsys))
    assert "(default: 20000)" in ingest["--batch-records"]
    assert "(default: not set)" in ingest["--lake"]
    assert "(default: off)" in ingest["--insecure"]
    assert "(default: auto)" in ingest["--progress"]
    assert ingest["--dead-letter"].count("default") == 1  # a default the help names is not repeated
    assert "(required)" in option_entries(help_text(["backfill"], capsys))["--queue"]


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out == f"waflens {version('waflens')}\n"


@pytest.mark.parametrize("content", ["", "\n\n  \n"])
def test_inputs_without_records_warn_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "empty.log").write_text(content)
    code = main(["ingest", str(tmp_path / "logs"), "--lake", str(tmp_path / "lake")])
    out, err = capsys.readouterr()
    assert code == 0
    assert orjson.loads(out.splitlines()[-1])["records_in"] == 0
    assert err.endswith(EMPTY_WARNING)


def test_inputs_with_records_do_not_warn(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(sample("panther.ndjson")), "--lake", str(tmp_path / "lake")]) == 0
    assert EMPTY_WARNING not in capsys.readouterr().err


def read_only_folder(tmp_path: Path) -> Path:
    """A folder nothing can be created in: a 0o555 folder, or sysfs for root, whom modes do not stop."""
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir(mode=0o555)
        return folder
    folder = Path("/sys")
    with pytest.raises(OSError, match="Permission denied"):  # the premise: even root cannot write there
        (folder / "waflens-probe").write_text("")
    return folder


@pytest.mark.parametrize("option", ["--lake", "--dead-letter", "--metrics"])
def test_a_target_under_a_read_only_folder_is_a_usage_error_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str
) -> None:
    target = read_only_folder(tmp_path) / "waflens-target" / "below"
    argv = ["ingest", str(sample("panther.ndjson")), "--lake", str(tmp_path / "lake"), option, str(target)]
    code = main(argv)
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f"waflens: {option} {target}: cannot write there (Permission denied)\n"
    assert not any((tmp_path / "lake").rglob("*.parquet"))


def test_a_metrics_file_in_the_way_of_a_folder_is_a_usage_error_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "file").write_text("x")
    metrics = tmp_path / "file" / "metrics.jsonl"
    argv = ["ingest", str(sample("panther.ndjson")), "--lake", str(tmp_path / "lake")]
    code = main([*argv, "--metrics", str(metrics)])
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f"waflens: --metrics {metrics}: cannot write there ({tmp_path / 'file'} is not a folder)\n"
    assert not (tmp_path / "lake").exists()
    code = main([*argv, "--metrics", str(tmp_path)])
    assert (code, capsys.readouterr().err) == (
        2,
        f"waflens: --metrics {tmp_path}: cannot write there (it is a folder)\n",
    )


def test_a_metrics_file_in_a_new_folder_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    metrics = tmp_path / "new" / "metrics.jsonl"
    argv = ["ingest", str(sample("panther.ndjson")), "--lake", str(tmp_path / "lake")]
    assert main([*argv, "--metrics", str(metrics)]) == 0
    assert metrics.read_text().count("\n") >= 1


@pytest.mark.parametrize(
    ("write", "problem"),
    [
        (lambda p: p.mkdir(), "Is a directory"),
        (lambda p: p.write_bytes(b"\xff\xfe[owners]\x00"), "not UTF-8 text"),
    ],
    ids=["a folder", "binary"],
)
def test_an_unreadable_config_is_a_usage_error_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], write: object, problem: str
) -> None:
    config = tmp_path / "waflens.toml"
    assert callable(write)
    write(config)
    code = main(
        ["ingest", str(sample("panther.ndjson")), "--lake", str(tmp_path / "lake"), "--config", str(config)]
    )
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == f"waflens: {config}: cannot read the config file ({problem})\n"
    assert not (tmp_path / "lake").exists()
