"""The dashboard in a real browser: Debian's chromium driven by Playwright loads it from the
service, starts a dream, watches its progress arrive over the event stream, approves a playbook
revision and sees the playbook change. Every request the page makes goes to this server.

Without chromium the test skips, except under CI (``CI=true``), where it fails: ``.ci/run``
installs chromium, so a missing one there is a broken set-up, not a reason to pass."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from svc_support import AUTH, TOKEN, Held, held, server, store_memory  # noqa: F401

from oneiro import demo
from oneiro.dream.writes import RevisionProposal
from oneiro.memory import Memory
from oneiro.service.live import LiveServer


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


try:
    import playwright.sync_api as playwright_sync
except ImportError:  # pragma: no cover - the service-test extra is missing
    if under_ci():
        raise
    pytest.skip("playwright is not installed (the service-test extra)", allow_module_level=True)
#: Where Debian's package puts the browser; ``CHROMIUM`` overrides it.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: Milliseconds a browser expectation may take (a dream of the demo day takes well under one s).
WAIT_MS = 20_000
#: Set to a directory (``docs``) to keep the screenshots there.
SCREENSHOTS_ENV = "ONEIRO_SCREENSHOTS"


def chromium() -> str:
    found = CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium")
    if found:
        return found
    if under_ci():
        pytest.fail("chromium is missing under CI: `.ci/run` installs it (apt-get install chromium)")
    pytest.skip("no chromium here (apt-get install chromium)")


@pytest.fixture
def page(server: LiveServer) -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        pg = context.new_page()
        pg.set_default_timeout(WAIT_MS)
        yield pg
        context.close()
        browser.close()


def shots(tmp_path: Path) -> Path:
    chosen = os.environ.get(SCREENSHOTS_ENV)
    out = Path(chosen) if chosen else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_the_dashboard_dreams_shows_progress_and_approves_a_revision(
    page: object, server: LiveServer, store_memory: Memory, held: Held, tmp_path: Path
) -> None:
    pg = page
    assert isinstance(pg, playwright_sync.Page)
    expect = playwright_sync.expect
    store_memory.record_many(demo.episodes())
    rule = "Run the migration dry run before an evening release"
    rev = store_memory.playbook.propose(RevisionProposal("add", "Releases", rule, "seen"))
    requested: list[str] = []
    pg.on("request", lambda r: requested.append(r.url))
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))

    pg.goto(f"{server.url}/#token={TOKEN}")
    expect(pg.locator("body")).to_have_attribute("data-loaded", "yes")
    expect(pg.locator("body")).to_have_attribute("data-stream", "open")
    assert "token" not in pg.url, "the token leaves the address bar once read"
    expect(pg.get_by_test_id("status")).to_contain_text(f"{len(demo.episodes())} episodes")

    held.released.clear()
    pg.get_by_test_id("dream").click()
    expect(pg.get_by_test_id("mode")).to_have_text("dream")
    expect(pg.locator("#phases li.done")).to_have_count(2)  # onset and nrem; rem is held open
    expect(pg.locator("#phases li.running")).to_have_attribute("data-phase", "rem")
    expect(pg.locator("#events li[data-kind=dream_progress]").first).to_be_visible()
    pg.screenshot(path=str(shots(tmp_path) / "dashboard-dreaming.png"), full_page=True)
    held.release()
    expect(pg.locator("#events li[data-kind=dream_done]")).to_have_count(1)
    expect(pg.get_by_test_id("mode")).to_have_text("awake")
    expect(pg.locator("#phases li.done")).to_have_count(6)
    expect(pg.locator("#cycles tr")).to_have_count(1)
    staged = store_memory.hypotheses("staged")
    expect(pg.locator("#lifecycle [data-status=staged]")).to_have_text(f"staged {len(staged)}")
    expect(pg.locator("svg#plot-residuals")).to_have_attribute("data-points", "1")

    card = pg.locator(f"[data-revision='{rev.id}']")
    expect(card.locator(".diff .add").last).to_contain_text("Run the migration dry run")
    expect(pg.get_by_test_id("playbook")).not_to_contain_text("migration dry run")
    card.locator("[data-action=approve]").click()
    expect(pg.get_by_test_id("playbook")).to_contain_text(rule)
    expect(pg.get_by_test_id("revisions")).to_contain_text("none pending")
    assert store_memory.playbook.revision(rev.id).status.value == "active"

    (correction,) = [h for h in staged if h.kind == "correction"]
    pg.locator(f"#hypotheses tr[data-hypothesis='{correction.id}']").click()
    expect(pg.get_by_test_id("evidence")).to_contain_text("rests on 5 episode(s)")
    pg.locator("#cycles tr").first.click()
    expect(pg.locator("#cycle-detail tbody tr")).to_have_count(6)
    pg.screenshot(path=str(shots(tmp_path) / "dashboard.png"), full_page=True)

    assert errors == []
    assert requested and all(u.startswith(server.url) for u in requested), "nothing fetched elsewhere"


def test_the_dashboard_without_a_token_says_why_a_dream_is_refused(
    page: object, server: LiveServer, store_memory: Memory
) -> None:
    pg = page
    assert isinstance(pg, playwright_sync.Page)
    pg.goto(server.url)
    playwright_sync.expect(pg.locator("body")).to_have_attribute("data-loaded", "yes")
    pg.get_by_test_id("dream").click()
    playwright_sync.expect(pg.get_by_test_id("notice")).to_contain_text("unauthorized")
    assert store_memory.cycles() == []
    assert AUTH
