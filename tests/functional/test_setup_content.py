"""``waflens setup`` against loopback OpenSearch and Dashboards: content of every kind, applied idempotently.

The content is synthetic (``tests/support/setup_content.py``): the index template and ISM policy, a
tenant, a role, a role mapping, a monitor, a detector, and saved objects (an index pattern, a
visualization, a dashboard). A second run must only read; a user's edit must survive.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests

from dashboards.registry import SetupContent
from devtools.fake_dashboards import FakeDashboards
from devtools.fake_opensearch import FakeOpenSearch
from ingest.cli.main import main
from ingest.setup.dashboards import IMPORT_FILE
from tests.support.setup_content import DASHBOARD_ID, VIS_ID, saved_objects, synthetic_content, with_objects

EVERYTHING = [
    "index-template",
    "ism-policy",
    "tenant:waflens",
    "role:waflens_analyst",
    "role-mapping:waflens_analyst",
    "monitor:waflens blocked spike",
    "detector:waflens-block-rate",
    "index-pattern:waflens-events",
    f"visualization:{VIS_ID}",
    f"dashboard:{DASHBOARD_ID}",
]
SECRETS = ("Authorization: Bearer wlsecret-4d1c", "?token=wlsecret-99aa", "Cookie: session=wlsecret-c00k")


class Cluster:
    """A loopback OpenSearch and Dashboards, and ``waflens setup`` pointed at both."""

    def __init__(
        self, opensearch: FakeOpenSearch, dashboards: FakeDashboards, capsys: pytest.CaptureFixture[str]
    ):
        self.opensearch, self.dashboards, self._capsys = opensearch, dashboards, capsys
        self.err = ""

    def setup(self, content: SetupContent, *extra: str) -> tuple[int, dict[str, object]]:
        """Run the command; the exit code and the JSON summary (stderr kept in ``err``)."""
        argv = ["setup", "--opensearch", self.opensearch.url, "--dashboards", self.dashboards.url, *extra]
        code = main(argv, content=content)
        captured = self._capsys.readouterr()
        self.err = captured.err
        return code, orjson.loads(captured.out.strip().splitlines()[-1])

    def mark(self) -> tuple[int, int]:
        """Where the request logs end now, for ``calls``."""
        return len(self.opensearch.requests), len(self.dashboards.requests)

    def calls(self, since: tuple[int, int] = (0, 0)) -> list[str]:
        """Requests after ``since`` as ``METHOD path``: OpenSearch's, then Dashboards'."""
        requests_ = [*self.opensearch.requests[since[0] :], *self.dashboards.requests[since[1] :]]
        return [f"{r.method} {r.path}" for r in requests_]

    def edit(self, kind: str, object_id: str, **attributes: object) -> None:
        """Change an object the way a user saving it in Dashboards would."""
        response = requests.put(
            f"{self.dashboards.url}/api/saved_objects/{kind}/{object_id}",
            json={"attributes": attributes},
            headers={"osd-xsrf": "true", "securitytenant": "waflens"},
            timeout=10,
        )
        assert response.status_code == 200, response.text


@pytest.fixture
def cluster(capsys: pytest.CaptureFixture[str]) -> Iterator[Cluster]:
    with FakeOpenSearch() as opensearch, FakeDashboards() as dashboards:
        yield Cluster(opensearch, dashboards, capsys)


def _only_reads(calls: list[str]) -> bool:
    return all(c.startswith("GET ") or c.endswith("/_search") or c.endswith("/_bulk_get") for c in calls)


def test_the_first_run_creates_everything_and_the_second_only_reads(cluster: Cluster) -> None:
    first = cluster.setup(synthetic_content())
    before = cluster.mark()
    second = cluster.setup(synthetic_content())
    again = cluster.calls(before)

    assert first == (0, dict.fromkeys(EVERYTHING, "created"))
    assert second == (0, dict.fromkeys(EVERYTHING, "unchanged"))
    assert _only_reads(again), again
    assert len(again) == 8  # one read per request, one _bulk_get for every saved object
    plugins = cluster.opensearch.plugins
    assert set(plugins.security["roles"]) == {"waflens_analyst"}
    assert [m["name"] for m in plugins.monitors.objects.values()] == ["waflens blocked spike"]
    assert plugins.running == set(plugins.detectors.objects)  # created, then started
    assert cluster.dashboards.get("dashboard", DASHBOARD_ID, "waflens") is not None


@pytest.mark.parametrize(
    ("changed", "writes"),
    [
        ("role", ["PUT /_plugins/_security/api/roles/waflens_analyst"]),
        ("monitor", ["PUT /_plugins/_alerting/monitors/fakemonitor000000"]),
        (
            "detector",
            [
                "POST /_plugins/_anomaly_detection/detectors/fakedetector000000/_stop",
                "PUT /_plugins/_anomaly_detection/detectors/fakedetector000000",
                "POST /_plugins/_anomaly_detection/detectors/fakedetector000000/_start",
            ],
        ),
        ("visualization", ["POST /api/saved_objects/_import"]),
    ],
)
def test_a_changed_body_updates_only_that_piece(cluster: Cluster, changed: str, writes: list[str]) -> None:
    cluster.setup(synthetic_content())
    before = cluster.mark()

    code, summary = cluster.setup(synthetic_content(**{changed: 2}))
    calls = cluster.calls(before)

    assert code == 0
    assert [name for name, change in summary.items() if change != "unchanged"] == [
        next(name for name in EVERYTHING if name.startswith(changed))
    ]
    assert [c for c in calls if not _only_reads([c])] == writes
    assert summary[next(n for n in EVERYTHING if n.startswith(changed))] == "updated"


def test_a_monitor_update_names_the_sequence_number_it_replaces(cluster: Cluster) -> None:
    cluster.setup(synthetic_content())
    cluster.setup(synthetic_content(monitor=2))

    put = next(r for r in cluster.opensearch.requests if r.method == "PUT" and "_alerting" in r.path)
    assert put.query.keys() >= {"if_seq_no", "if_primary_term"}
    assert put.status == 200


def test_only_what_changed_is_imported_in_one_request(cluster: Cluster) -> None:
    cluster.setup(synthetic_content())
    cluster.setup(synthetic_content(visualization=2))

    imports = [r for r in cluster.dashboards.requests if r.path.endswith("/_import")]
    assert len(imports) == 2
    assert b'"id":"waflens-blocked-by-ip"' in imports[1].body
    assert b'"id":"waflens-overview"' not in imports[1].body


def test_the_import_carries_the_xsrf_and_tenant_headers_and_an_ndjson_file(cluster: Cluster) -> None:
    cluster.setup(synthetic_content())

    for request in cluster.dashboards.requests:
        assert request.headers["osd-xsrf"] == "true"
        assert request.headers["securitytenant"] == "waflens"
    imported = next(r for r in cluster.dashboards.requests if r.path.endswith("/_import"))
    assert imported.query == {"overwrite": "true"}
    assert imported.headers["content-type"].startswith("multipart/form-data")
    assert f'filename="{IMPORT_FILE}"'.encode() in imported.body


def test_the_fake_dashboards_refuses_writes_without_the_xsrf_header(cluster: Cluster) -> None:
    response = requests.post(f"{cluster.dashboards.url}/api/saved_objects/_bulk_get", json=[], timeout=10)

    assert response.status_code == 400
    assert "osd-xsrf" in response.json()["message"]


def test_an_object_a_user_edited_is_reported_and_left_alone(cluster: Cluster) -> None:
    cluster.setup(synthetic_content())
    cluster.edit("visualization", VIS_ID, title="Blocked by IP (ops copy)")
    before = cluster.mark()

    code, summary = cluster.setup(synthetic_content(visualization=2))

    assert code == 4  # applied, except what a user changed: a person has to decide
    assert summary[f"visualization:{VIS_ID}"] == "changed on the cluster"
    assert summary["changed_on_cluster"] == [
        {"type": "visualization", "id": VIS_ID, "title": "Blocked by IP (ops copy)"}
    ]
    assert _only_reads(cluster.calls(before))
    kept = cluster.dashboards.get("visualization", VIS_ID, "waflens")
    assert kept is not None
    assert kept["attributes"]["title"] == "Blocked by IP (ops copy)"
    assert f"{VIS_ID} ('Blocked by IP (ops copy)') was changed on the cluster" in cluster.err
    assert "--replace-changed" in cluster.err


def test_an_edited_index_pattern_is_reported_the_same_way(cluster: Cluster) -> None:
    cluster.setup(synthetic_content())
    cluster.edit("index-pattern", "waflens-events", timeFieldName="timestamp")

    code, summary = cluster.setup(synthetic_content())

    assert code == 4
    assert summary["index-pattern:waflens-events"] == "changed on the cluster"


def test_replace_changed_backs_up_the_users_copy_then_overwrites_it(cluster: Cluster, tmp_path: Path) -> None:
    cluster.setup(synthetic_content())
    cluster.edit("visualization", VIS_ID, title="Blocked by IP (ops copy)")

    code, summary = cluster.setup(synthetic_content(), "--replace-changed", "--backup-dir", str(tmp_path))

    assert code == 0
    assert summary[f"visualization:{VIS_ID}"] == "replaced"
    backup = Path(str(summary["backup"]))
    assert backup.parent == tmp_path
    assert str(backup) in cluster.err
    lines = [orjson.loads(line) for line in backup.read_bytes().splitlines()]
    assert [(o["type"], o["id"], o["attributes"]["title"]) for o in lines] == [
        ("visualization", VIS_ID, "Blocked by IP (ops copy)")
    ]
    restored = cluster.dashboards.get("visualization", VIS_ID, "waflens")
    assert restored is not None
    assert restored["attributes"]["title"] == "Blocked requests by client IP"
    assert cluster.setup(synthetic_content())[0] == 0  # waflens's copy again: nothing to report


def test_dashboards_under_a_base_path_as_on_amazon_opensearch_service(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeOpenSearch() as opensearch, FakeDashboards(base_path="/_dashboards") as dashboards:
        code, summary = Cluster(opensearch, dashboards, capsys).setup(synthetic_content())
        paths = {r.path for r in dashboards.requests}

    assert code == 0
    assert summary[f"dashboard:{DASHBOARD_ID}"] == "created"
    assert paths == {"/_dashboards/api/saved_objects/_bulk_get", "/_dashboards/api/saved_objects/_import"}


def test_render_writes_each_request_the_saved_objects_and_their_import_call(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "render"

    code = main(["setup", "--render", str(out)], content=synthetic_content())

    rendered = orjson.loads(capsys.readouterr().out.strip().splitlines()[-1])["rendered"]
    names = [Path(p).name for p in rendered]
    assert code == 0
    assert names == [
        "01-index-template.json",
        "02-ism-policy.json",
        "03-tenant-waflens.json",
        "04-role-waflens_analyst.json",
        "05-role-mapping-waflens_analyst.json",
        "06-monitor-waflens blocked spike.json",
        "07-detector-waflens-block-rate.json",
        "saved-objects.ndjson",
        "saved-objects-import.json",
    ]
    role = orjson.loads((out / "04-role-waflens_analyst.json").read_bytes())
    assert role["method"] == "PUT"
    assert role["path"] == "/_plugins/_security/api/roles/waflens_analyst"
    objects = [orjson.loads(line) for line in (out / "saved-objects.ndjson").read_bytes().splitlines()]
    assert [(o["type"], o["id"]) for o in objects] == [
        ("index-pattern", "waflens-events"),
        ("visualization", VIS_ID),
        ("dashboard", DASHBOARD_ID),
    ]
    assert "[waflens " in objects[1]["attributes"]["description"]
    call = orjson.loads((out / "saved-objects-import.json").read_bytes())
    assert call["method"] == "POST"
    assert call["path"] == "/api/saved_objects/_import?overwrite=true"
    assert call["headers"] == {"osd-xsrf": "true", "securitytenant": "waflens"}


def test_saved_objects_without_dashboards_are_named_not_applied(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeOpenSearch() as opensearch:
        code = main(["setup", "--opensearch", opensearch.url], content=synthetic_content())
    captured = capsys.readouterr()
    summary = orjson.loads(captured.out.strip().splitlines()[-1])

    assert code == 0
    assert "3 saved objects not applied: pass --dashboards URL" in captured.err
    assert not any(name.startswith("dashboard:") for name in summary)


def test_replace_changed_without_dashboards_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["setup", "--opensearch", "http://127.0.0.1:9", "--replace-changed"], content=synthetic_content()
    )

    assert code == 2
    assert "--replace-changed applies to saved objects and needs --dashboards URL" in capsys.readouterr().err


def _planted() -> SetupContent:
    """Content whose saved-object titles carry a bearer token, a token query argument and a cookie."""
    return with_objects(synthetic_content(), saved_objects({}, title_extra=" ".join(("", *SECRETS))))


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        assert "wlsecret" not in text, text


def test_a_failing_dashboards_exits_one_without_quoting_what_it_was_sent(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with FakeOpenSearch() as opensearch, FakeDashboards(fail_status=500, fail_path="/_import") as dashboards:
        cluster = Cluster(opensearch, dashboards, capsys)
        code, summary = cluster.setup(_planted())
        echoed = dashboards.requests[-1]

    assert code == 1
    assert b"wlsecret" in echoed.body  # the server did see the content, and quoted it in its answer
    assert "setup failed at importing saved objects: HTTP 500 Internal Server Error" in cluster.err
    assert summary["role:waflens_analyst"] == "created"  # what was applied before the failure
    _assert_no_secret(cluster.err, orjson.dumps(summary).decode())


def test_an_unreachable_cluster_exits_one(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["setup", "--opensearch", "http://127.0.0.1:9", "--timeout", "2"], content=synthetic_content()
    )

    err = capsys.readouterr().err
    assert code == 1
    assert "setup failed at index-template: no answer from OpenSearch (ConnectionError)" in err


def test_a_refused_body_exits_one_without_quoting_it(cluster: Cluster) -> None:
    content = synthetic_content()
    role = next(r for r in content.requests if r.kind == "role")
    planted = type(role)(role.name, role.method, role.path, {**role.body, "secret_note": SECRETS[0]})
    requests_ = tuple(planted if r is role else r for r in content.requests)

    code, summary = cluster.setup(SetupContent(requests_, content.saved_objects, content.tenant))

    assert code == 1
    assert "setup failed at role:waflens_analyst: HTTP 400" in cluster.err
    assert "role:waflens_analyst" not in summary
    _assert_no_secret(cluster.err, orjson.dumps(summary).decode())


def test_sigv4_signs_the_dashboards_requests_for_service_es(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with FakeOpenSearch() as opensearch, FakeDashboards() as dashboards:
        cluster = Cluster(opensearch, dashboards, capsys)
        code, _ = cluster.setup(
            synthetic_content(), "--opensearch-auth", "sigv4", "--aws-region", "eu-west-1"
        )

    assert code == 0
    for request in dashboards.requests:
        assert request.headers["authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
        assert "/eu-west-1/es/aws4_request" in request.headers["authorization"]
