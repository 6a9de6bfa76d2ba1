"""The dashboard in a real browser: headless Chromium from Debian's ``chromium`` package, driven by
Playwright with ``executable_path`` (no browser is downloaded), against ``scale up --nodes 3``
with jobs running, failed and queued. Screenshots go to the test's temporary directory; with
``SCALE_DASHBOARD_SCREENSHOT=PATH`` the overview is also saved there (the README's picture)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import FAST_PERIODS, Cluster, _answers, free_port
from tests.ops.conftest import GIANT, NODES, STATUS_PERIOD_S, create_type, job_count, submit
from tests.util import wait_until

pytestmark = pytest.mark.slow
sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: How long the page may take to show a change: the scheduler's sync (2 s in these tests), one
#: status period and one poll, with room for a machine shared by many test processes.
SHOWN_WITHIN_MS = 30_000
EVIL = '<b id="evil">bold</b><img src=x onerror="window.__xss=1">'


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Debian's chromium is not installed at {CHROMIUM} (.ci/run installs it)")
        pytest.skip(f"no chromium at {CHROMIUM}")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


class PageLog:
    """Console errors, uncaught exceptions and the status poll's answers, as the page saw them."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        self.status_codes: list[int] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.url.endswith("/v6/status/"):
            self.status_codes.append(response.status)


def _open(browser: Any, c: Cluster) -> tuple[Any, PageLog]:
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    log = PageLog(page)
    page.goto(c.base_url + "/")
    return page, log


def test_dashboard_shows_nodes_counts_reasons_and_pauses_the_scheduler_after_sign_in(
    system: tuple[Cluster, dict[str, list[int]]], browser: Any, tmp_path: Path
) -> None:
    c, jobs = system
    expect = sync_api.expect
    page, log = _open(browser, c)

    # The three nodes, each tile with the state the status gives it
    tiles = page.locator("article.tile")
    expect(tiles).to_have_count(NODES, timeout=SHOWN_WITHIN_MS)
    status = c.wait_status(lambda s: len(s["nodes"]) == NODES)
    for node in status["nodes"]:
        expect(page.locator(f'article.tile[data-node="{node["hostname"]}"]')).to_have_attribute(
            "data-state", node["state"]["name"], timeout=SHOWN_WITHIN_MS
        )
        expect(page.locator(f'article.tile[data-node="{node["hostname"]}"] .state')).to_have_text(
            node["state"]["title"]
        )

    # Job counts equal to the jobs API's, for every status
    for status_name in ("PENDING", "BLOCKED", "QUEUED", "RUNNING", "FAILED", "COMPLETED", "CANCELED"):
        expect(page.locator(f'[data-job-count="{status_name}"]')).to_have_text(
            str(job_count(c, status_name)), timeout=SHOWN_WITHIN_MS
        )
    assert job_count(c, "RUNNING") == 2 and job_count(c, "FAILED") == 2 and job_count(c, "QUEUED") == 1

    # The queued job's reason
    reason = page.locator('tr[data-job-type="giant"] li.reason')
    expect(reason.first).to_contain_text("insufficient mem", timeout=SHOWN_WITHIN_MS)

    # Running jobs and recent failures listed; a failed job's detail shows its execution and logs
    expect(page.locator("#running-table tbody tr")).to_have_count(2, timeout=SHOWN_WITHIN_MS)
    expect(page.locator("#failure-groups li[data-error='bad-data'] strong")).to_have_text("2")
    page.locator(f'#failed-table a[data-job="{jobs["failed"][0]}"]').click()
    dialog = page.locator("#job-dialog")
    expect(dialog.locator('[data-fact="Status"]')).to_have_text("FAILED", timeout=SHOWN_WITHIN_MS)
    expect(dialog.locator(".exe")).to_have_count(1, timeout=SHOWN_WITHIN_MS)
    dialog.locator(".exe button", has_text="Logs").click()
    expect(page.locator("#job-log")).to_contain_text("sleeping 0s", timeout=SHOWN_WITHIN_MS)
    page.screenshot(path=str(tmp_path / "job-detail.png"))
    page.locator("#job-close").click()

    # A node paused through the API shows PAUSED without reloading the page
    host = status["nodes"][0]["hostname"]
    assert c.patch(f"/v6/nodes/{status['nodes'][0]['id']}/", {"is_paused": True}).status_code == 204
    expect(page.locator(f'article.tile[data-node="{host}"]')).to_have_attribute(
        "data-state", "PAUSED", timeout=SHOWN_WITHIN_MS
    )
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    target = os.environ.get("SCALE_DASHBOARD_SCREENSHOT")
    if target:
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=target, full_page=True)

    # No action before signing in; sign in with the token, then pause the scheduler from the page
    expect(page.locator("#scheduler-toggle")).to_be_hidden()
    page.locator("#signin-open").click()
    page.locator("#signin-token").fill(c.token or "")
    page.locator("#signin-submit").click()
    expect(page.locator("#signout")).to_be_visible(timeout=SHOWN_WITHIN_MS)
    toggle = page.locator("#scheduler-toggle")
    expect(toggle).to_have_text("Pause scheduler", timeout=SHOWN_WITHIN_MS)
    toggle.click()
    c.wait_status(
        lambda s: s["scheduler"]["state"]["name"] == "PAUSED", timeout=30, what="a PAUSED scheduler"
    )
    expect(page.locator("#scheduler-state")).to_have_text("Paused", timeout=SHOWN_WITHIN_MS)
    assert page.evaluate("sessionStorage.getItem('scale-token')") == c.token
    page.screenshot(path=str(tmp_path / "paused.png"), full_page=True)

    # Signed in, each tile has its actions: pause a node from the page, then resume it
    tile = page.locator(f'article.tile[data-node="{status["nodes"][1]["hostname"]}"]')
    tile.locator('button[data-action="pause"]').click(timeout=SHOWN_WITHIN_MS)
    c.wait_status(
        lambda s: s["nodes"][1]["state"]["name"] == "PAUSED", timeout=30, what="the node paused from the page"
    )
    expect(tile).to_have_attribute("data-state", "PAUSED", timeout=SHOWN_WITHIN_MS)
    tile.locator('button[data-action="resume"]').click(timeout=SHOWN_WITHIN_MS)
    expect(tile).not_to_have_attribute("data-state", "PAUSED", timeout=SHOWN_WITHIN_MS)
    # Cancel a running job from its detail
    page.locator(f'#running-table a[data-job="{jobs["running"][0]}"]').click()
    page.locator("#job-cancel").click(timeout=SHOWN_WITHIN_MS)
    wait_until(
        lambda: c.get(f"/v6/jobs/{jobs['running'][0]}/").json()["status"] == "CANCELED",
        timeout=60,
        what="the job canceled from the page",
    )
    expect(page.locator('#job-dialog [data-fact="Status"]')).to_have_text("CANCELED", timeout=SHOWN_WITHIN_MS)
    page.locator("#job-close").click()

    # The status was polled with If-None-Match: unchanged documents came back as 304
    wait_until(
        lambda: 304 in log.status_codes, timeout=STATUS_PERIOD_S * 20, what="a 304 for the status poll"
    )
    assert log.errors == []
    # Leave the system as it was for the module's other tests
    assert c.patch("/v6/scheduler/", {"is_paused": False}).status_code == 200
    assert c.patch(f"/v6/nodes/{status['nodes'][0]['id']}/", {"is_paused": False}).status_code == 204
    page.close()


def test_dashboard_actions_need_a_valid_token(
    system: tuple[Cluster, dict[str, list[int]]], browser: Any
) -> None:
    c, _ = system
    page, log = _open(browser, c)
    expect = sync_api.expect
    page.locator("#signin-open").click()
    page.locator("#signin-token").fill("not-a-token")
    # The sign-in check answers 401, which the browser also reports on the console.
    page.locator("#signin-submit").click()
    expect(page.locator("#signin-error")).to_contain_text("token is not valid", timeout=SHOWN_WITHIN_MS)
    expect(page.locator("#signout")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('scale-token')") is None
    assert [e for e in log.errors if "401" not in e] == []
    page.close()


def test_user_text_is_shown_as_text_never_as_markup(
    system: tuple[Cluster, dict[str, list[int]]], browser: Any
) -> None:
    c, _ = system
    expect = sync_api.expect
    # A job type whose title and description are markup, with a job queued (so the queue shows it)
    job = {**GIANT["manifest"]["job"], "name": "evil", "title": EVIL, "description": EVIL}
    evil = {**GIANT, "manifest": {**GIANT["manifest"], "job": job}}
    job_id = submit(c, create_type(c, evil), {})
    page, log = _open(browser, c)
    row = page.locator('tr[data-job-type="evil"]')
    expect(row.locator("td").first).to_contain_text('<b id="evil">bold</b>', timeout=SHOWN_WITHIN_MS)
    # The job's detail, opened from its link (#job-ID)
    page.goto(f"{c.base_url}/#job-{job_id}")
    page.reload()
    expect(page.locator("#job-title")).to_contain_text('onerror="window.__xss=1"', timeout=SHOWN_WITHIN_MS)
    assert page.locator("#evil").count() == 0
    assert page.locator("img").count() == 0
    assert page.evaluate("window.__xss") is None
    assert log.errors == []
    # The page allows only its own script and stylesheet, so injected code could not run anyway
    csp = c.anonymous.get("/").headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    page.close()


def test_dashboard_at_1000_nodes_groups_filters_and_draws_a_bounded_number_of_tiles(
    browser: Any, tmp_path: Path
) -> None:
    """``scale scheduler --backend sim --sim-nodes 1000`` and ``scale api``: the page lists every
    state with its count, draws at most 120 tiles and finds any node by state or hostname."""
    port = free_port()
    env = {**os.environ, **FAST_PERIODS, "SCALE_PERIOD_STATUS": "2"}
    env.pop("SCALE_DATABASE_URL", None)
    c = Cluster(f"http://127.0.0.1:{port}", tmp_path, env)
    data = str(tmp_path / "data")
    try:
        c.token = c.create_token("--name", "big")
        c.start("scheduler", "scheduler", "--data-dir", data, "--backend", "sim", "--sim-nodes", "1000")
        c.start("api", "api", "--port", str(port), "--data-dir", data)
        wait_until(lambda: _answers(c), timeout=60, what="the API to answer")
        status = c.wait_status(
            lambda s: len(s["nodes"]) == 1000, timeout=120, what="1000 nodes in the status"
        )
        node = next(n for n in status["nodes"] if n["id"] == status["nodes"][-1]["id"])
        assert c.patch(f"/v6/nodes/{node['id']}/", {"is_paused": True}).status_code == 204
        page, log = _open(browser, c)
        expect = sync_api.expect
        expect(page.locator('#state-filter [data-filter=""]')).to_have_text(
            "All 1000", timeout=SHOWN_WITHIN_MS
        )
        assert page.locator("article.tile").count() <= 120
        expect(page.locator("#nodes-more")).to_contain_text("880 more nodes")
        # The paused node's group, by its state chip
        page.locator('#state-filter [data-filter="PAUSED"]').click(timeout=SHOWN_WITHIN_MS)
        expect(page.locator("article.tile")).to_have_count(1, timeout=SHOWN_WITHIN_MS)
        expect(page.locator("article.tile")).to_have_attribute("data-node", node["hostname"])
        page.locator('#state-filter [data-filter=""]').click()
        page.locator("#node-search").fill(status["nodes"][500]["hostname"])
        expect(page.locator("article.tile")).to_have_count(1, timeout=SHOWN_WITHIN_MS)
        expect(page.locator("article.tile .host")).to_have_text(status["nodes"][500]["hostname"])
        page.screenshot(path=str(tmp_path / "1000-nodes.png"))
        # Deprecate that node from the page: signed in, two clicks (the first only arms the button)
        page.locator("#signin-open").click()
        page.locator("#signin-token").fill(c.token or "")
        page.locator("#signin-submit").click()
        button = page.locator('article.tile button[data-action="deprecate"]')
        button.click(timeout=SHOWN_WITHIN_MS)
        expect(button).to_have_text("Really deprecate?", timeout=SHOWN_WITHIN_MS)
        target = status["nodes"][500]
        assert c.get(f"/v6/nodes/{target['id']}/").json()["is_active"] is True
        button.click()
        wait_until(
            lambda: c.get(f"/v6/nodes/{target['id']}/").json()["is_active"] is False,
            timeout=30,
            what="the node deprecated from the page",
        )
        assert log.errors == []
        page.close()
    finally:
        c.close()
