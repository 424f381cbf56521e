"""The command line against a loopback OpenSearch: setup is idempotent, ingest needs no credentials."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from devtools.fake_dashboards import FakeDashboards
from devtools.fake_opensearch import FakeOpenSearch
from ingest.cli.main import main
from tests.support.samples import sample

GOLDEN = Path(__file__).resolve().parents[2] / "dashboards" / "golden"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, object]:
    code = main(argv)
    out = capsys.readouterr().out.strip().splitlines()
    return code, (orjson.loads(out[-1]) if out else None)


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "waflens.toml"


def test_setup_creates_then_changes_nothing_then_updates_what_changed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the example config: every kind of content waflens ships (roles per team, monitors, saved objects)
    config = tmp_path / "waflens.toml"
    config.write_text(EXAMPLE.read_text())
    with FakeOpenSearch() as server, FakeDashboards() as dashboards:
        argv = ["setup", "--opensearch", server.url, "--dashboards", dashboards.url, "--config", str(config)]
        first = run(argv, capsys)
        writes = len([r for r in [*server.requests, *dashboards.requests] if _writes(r.method, r.path)])
        second = run(argv, capsys)
        config.write_text(EXAMPLE.read_text() + "\n[retention]\ndelete_after_days = 90\n")
        third = run(argv, capsys)
        puts = [r for r in server.requests if r.method == "PUT"]
        after = [r for r in [*server.requests, *dashboards.requests] if _writes(r.method, r.path)]

    assert first[0] == 0
    assert isinstance(first[1], dict)
    names = set(first[1])
    assert {"index-template", "ism-policy", "tenant:waflens", "role:waflens-analyst"} <= names
    assert any(name.startswith("dashboard:") for name in names)
    assert set(first[1].values()) == {"created"}
    assert second == (0, dict.fromkeys(names, "unchanged"))
    assert third == (0, {**dict.fromkeys(names, "unchanged"), "ism-policy": "updated"})
    assert len(after) == writes + 1  # the unchanged run sent nothing; the third only the policy
    assert puts[-1].query.keys() >= {"if_seq_no", "if_primary_term"}
    template = orjson.loads((GOLDEN / "index-template.json").read_bytes())
    assert server.templates["waflens-events"] == template["body"]


def _writes(method: str, path: str) -> bool:
    """A call that changes state: reads are GETs and the search / bulk-get POSTs."""
    return method != "GET" and not path.endswith(("/_search", "/_bulk_get"))


def test_setup_render_writes_every_request_without_a_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = run(["setup", "--render", str(tmp_path / "requests")], capsys)
    assert code == 0
    assert isinstance(out, dict)
    rendered = [Path(p).name for p in out["rendered"]]
    assert rendered[:2] == ["01-index-template.json", "02-ism-policy.json"]
    assert {"saved-objects.ndjson", "saved-objects-import.json"} <= set(rendered)
    assert any(name.endswith("-role-waflens-writer.json") for name in rendered)
    assert (tmp_path / "requests" / "01-index-template.json").read_text() == (
        GOLDEN / "index-template.json"
    ).read_text()
    assert (tmp_path / "requests" / "02-ism-policy.json").read_text() == (
        GOLDEN / "ism-policy.json"
    ).read_text()
    lines = (tmp_path / "requests" / "saved-objects.ndjson").read_text().splitlines()
    assert len(lines) >= 18
    assert all(isinstance(orjson.loads(line), dict) for line in lines)


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


def test_setup_only_renders_the_parts_asked_for(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(
        ["setup", "--render", str(tmp_path / "r"), "--only", "indices", "--only", "alerting"], capsys
    )
    assert code == 0
    assert isinstance(out, dict)
    names = [Path(p).name for p in out["rendered"]]
    assert names[:2] == ["01-index-template.json", "02-ism-policy.json"]
    assert all("role" not in n and "tenant" not in n and "saved-objects" not in n for n in names)
    assert any("-monitor-" in n for n in names)
    assert any("-detector-" in n for n in names)
