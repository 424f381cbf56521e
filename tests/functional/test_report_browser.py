"""The report in a real browser: Debian's chromium driven by Playwright (no browser is downloaded).

The page loads from ``file://`` with no console or page error and no request but its own; the totals
and per-action counts equal the lake's (computed by DuckDB); the time range and web ACL controls change
them to the right numbers; hostile URIs and user agents show as text. A screenshot of each colour
scheme is saved to ``$WAFLENS_TEST_ARTIFACTS`` (default ``tests-artifacts/``). In CI the test fails,
never skips, when chromium or Playwright is missing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ingest.cli.main import main
from tests.support.report import CLOSING_UA, CONFIG, SCRIPT_URI, build_lake, lake_sql
from tests.support.shared import REPO_ROOT, in_ci

# install-notes §5: flags for a headless chromium in a container
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]


def _unavailable(reason: str) -> None:
    if in_ci():
        pytest.fail(f"{reason}: the report's browser test must run in CI (.ci/run installs chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        _unavailable("chromium is not installed (apt-get install -y --no-install-recommends chromium)")
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415  # optional test dependency
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("browser")
    lake = build_lake(folder)
    out = folder / "report.html"
    assert main(["report", "--lake", str(lake), "--out", str(out), "--config", str(CONFIG)]) == 0
    return lake, out


def _artifacts() -> Path:
    folder = Path(os.environ.get("WAFLENS_TEST_ARTIFACTS") or REPO_ROOT / "tests-artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Watched:
    """A page with every console message, page error and request it made recorded."""

    def __init__(self, browser: Any, scheme: str) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
        self.console: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open(self, path: Path) -> None:
        self.page.goto(path.as_uri())
        self.page.wait_for_selector("body[data-ready='1']", timeout=15_000)

    def number(self, testid: str) -> int:
        return int(self.page.get_by_test_id(testid).get_attribute("data-value"))

    def actions(self) -> dict[str, int]:
        labels = self.page.locator("[data-testid^='action-']")
        return {
            labels.nth(i).get_attribute("data-testid").removeprefix("action-"): int(
                labels.nth(i).get_attribute("data-value")
            )
            for i in range(labels.count())
        }


def _utc(label: str) -> str:
    """An option label (``2026-01-05 00:00Z``) as a DuckDB timestamp literal."""
    return datetime.strptime(label, "%Y-%m-%d %H:%MZ").strftime("TIMESTAMPTZ '%Y-%m-%d %H:%M:00+00'")


def _expected(lake: Path, where: str) -> tuple[int, dict[str, int]]:
    rows = lake_sql(lake, f"SELECT action, count(*) FROM events WHERE {where} GROUP BY action")
    by_action = {str(a): int(str(n)) for a, n in rows}
    return sum(by_action.values()), by_action


def _shown(watched: Watched) -> tuple[int, dict[str, int]]:
    return watched.number("total-requests"), {a: n for a, n in watched.actions().items() if n}


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_report_renders_offline_with_the_lake_numbers(
    browser: Any, report: tuple[Path, Path], scheme: str
) -> None:
    lake, page_file = report
    watched = Watched(browser, scheme)
    watched.open(page_file)

    total, by_action = _expected(lake, "true")
    assert _shown(watched) == (total, by_action)
    assert watched.number("total-blocked") == by_action["BLOCK"]
    assert watched.page.locator("#timeline svg polyline").count() == 2
    assert watched.page.locator("[data-testid^='facet-']").count() == 12
    shot = _artifacts() / f"report-{scheme}.png"
    watched.page.screenshot(path=str(shot), full_page=True)
    print(f"screenshot: {shot}")
    assert watched.errors == []
    assert watched.console == []
    assert watched.requests == [page_file.as_uri()]


def test_the_time_range_and_web_acl_change_the_numbers(browser: Any, report: tuple[Path, Path]) -> None:
    lake, page_file = report
    watched = Watched(browser, "light")
    watched.open(page_file)
    page = watched.page
    before = _shown(watched)

    page.select_option("#from", "4")
    page.select_option("#to", "9")
    since = page.locator("#from option:checked").text_content()
    until = page.locator("#to option:checked").text_content()
    window = f'"@timestamp" >= {_utc(since)} AND "@timestamp" < {_utc(until)}'
    narrowed = _shown(watched)
    assert narrowed == _expected(lake, window)
    assert narrowed != before

    page.select_option("#acl", label="search-api_prod (222222222222)")
    acl = "waflens.webacl.name = 'search-api_prod' AND waflens.webacl.account_id = '222222222222'"
    assert _shown(watched) == _expected(lake, f"{window} AND {acl}")

    page.click("#reset")
    assert _shown(watched) == _expected(lake, acl)
    assert watched.errors == []
    assert watched.console == []


def test_hostile_uris_and_user_agents_show_as_text(browser: Any, report: tuple[Path, Path]) -> None:
    _, page_file = report
    watched = Watched(browser, "light")
    dialogs: list[str] = []
    watched.page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    watched.open(page_file)

    uris = watched.page.get_by_test_id("facet-uris").locator("td.key")
    agents = watched.page.get_by_test_id("facet-user_agents").locator("td.key")
    assert SCRIPT_URI in uris.all_text_contents()
    assert CLOSING_UA in agents.all_text_contents()
    assert watched.page.locator("script").count() == 2  # nothing the data carried became an element
    assert dialogs == []
    assert watched.errors == []
