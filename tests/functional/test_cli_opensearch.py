"""The command line against a loopback OpenSearch: setup is idempotent, ingest needs no credentials."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from devtools.fake_opensearch import FakeOpenSearch
from ingest.cli.main import main
from tests.support.samples import sample

GOLDEN = Path(__file__).resolve().parents[2] / "dashboards" / "golden"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, object]:
    code = main(argv)
    out = capsys.readouterr().out.strip().splitlines()
    return code, (orjson.loads(out[-1]) if out else None)


def test_setup_creates_then_changes_nothing_then_updates_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeOpenSearch() as server:
        first = run(["setup", "--opensearch", server.url], capsys)
        second = run(["setup", "--opensearch", server.url], capsys)
        config = tmp_path / "waflens.toml"
        config.write_text("[retention]\ndelete_after_days = 90\n")
        third = run(["setup", "--opensearch", server.url, "--config", str(config)], capsys)
        puts = [r for r in server.requests if r.method == "PUT"]

    assert first == (0, {"index-template": "created", "ism-policy": "created"})
    assert second == (0, {"index-template": "unchanged", "ism-policy": "unchanged"})
    assert third == (0, {"index-template": "unchanged", "ism-policy": "updated"})
    assert len(puts) == 3  # the unchanged run sent nothing
    assert puts[-1].query.keys() >= {"if_seq_no", "if_primary_term"}
    template = orjson.loads((GOLDEN / "index-template.json").read_bytes())
    assert server.templates["waflens-events"] == template["body"]


def test_setup_render_writes_every_request_without_a_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(["setup", "--render", str(tmp_path / "requests")], capsys)
    assert code == 0
    assert out == {
        "rendered": [str(tmp_path / "requests" / n) for n in ("01-index-template.json", "02-ism-policy.json")]
    }
    assert (tmp_path / "requests" / "01-index-template.json").read_text() == (
        GOLDEN / "index-template.json"
    ).read_text()
    assert (tmp_path / "requests" / "02-ism-policy.json").read_text() == (
        GOLDEN / "ism-policy.json"
    ).read_text()


def test_ingest_into_a_plain_http_cluster_needs_no_credentials_and_can_also_fill_the_lake(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENSEARCH_USERNAME", raising=False)
    with FakeOpenSearch() as server:
        argv = [
            "ingest",
            str(sample("panther.ndjson")),
            "--opensearch",
            server.url,
            "--lake",
            str(tmp_path / "lake"),
        ]
        code, summary = run(argv, capsys)
        again, replay = run(argv, capsys)
        bulk = next(r for r in server.requests if r.path.endswith("_bulk"))
    assert code == 0
    assert again == 0
    assert isinstance(summary, dict)
    assert isinstance(replay, dict)
    assert (summary["delivered"], summary["retryable"]) == (6, 0)
    assert (replay["delivered"], replay["already_present"]) == (6, 6)
    assert len(server.documents) == 6
    assert "authorization" not in bulk.headers
    assert list((tmp_path / "lake").rglob("*.parquet"))


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ingest", "x", "--opensearch", "ftp://host"], "is not an http(s) URL"),
        (["ingest", "x"], "name a target: --lake DIR, --opensearch URL, or both"),
        (["setup"], "setup needs exactly one of --opensearch URL or --render DIR"),
        (
            ["ingest", "x", "--opensearch", "http://h:9200", "--opensearch-auth", "basic"],
            "basic auth needs a user",
        ),
    ],
)
def test_cluster_usage_errors_exit_two(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("OPENSEARCH_USERNAME", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x").write_text("")
    assert main(argv) == 2
    assert message in capsys.readouterr().err
