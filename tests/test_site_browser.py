"""The site in a real browser: Debian's Chromium, driven by Playwright, on the built site.

The site is built once per test run (`mkdocs build --strict`, shared by the xdist
workers through a lock file), served on the loopback by a server this module starts
and stops, and read at 1280 px. The checks: every page loads with no console error,
the navigation reaches every page, search answers, every diagram is visible, and no
table is wider than its column. Screenshots of every page are written to
`build/screenshots/` (CI keeps them).

Chromium comes from Debian's `chromium` package (installed by `.ci/run`); nothing is
downloaded at run time.
"""

import fcntl
import functools
import http.server
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = ROOT / "build" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
SEARCHES = ("insufficient_available", "view change", "deadline")
PAGE_TIMEOUT_MS = 30_000
"""Generous: a page of the site is static, but the machine may be loaded."""


def run_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test run's own directory, shared by its xdist workers (each worker's base
    directory lies inside it), and by no other run."""
    if "PYTEST_XDIST_WORKER" not in os.environ:  # no xdist: the base directory is the run's own
        return tmp_path_factory.getbasetemp()
    return tmp_path_factory.getbasetemp().parent


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The built site, built once for all workers of this test run."""
    shared = run_directory(tmp_path_factory)
    built = shared / "site"
    with open(shared / "site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (built / "index.html").exists():
            environment = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
            command = [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(built)]
            result = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False)
            assert result.returncode == 0, result.stderr[-3000:]
    return built


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
        pass


@pytest.fixture(scope="module")
def base_url(site: Path) -> Iterator[str]:
    """The site served on the loopback, on a port the system picks; stopped after the module."""
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM.exists(), "Debian's chromium is not installed: run .ci/run's install step (apt-get install chromium)"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    opened = context.new_page()
    opened.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield opened
    finally:
        context.close()


def built_pages(site: Path) -> list[str]:
    """Every page of the site, as a path relative to its root ('' for the home page)."""
    pages: list[str] = []
    for index in sorted(site.rglob("index.html")):
        relative = index.parent.relative_to(site).as_posix()
        pages.append("" if relative == "." else relative + "/")
    return pages


def page_errors(page: Page, url: str) -> list[str]:
    """Console errors and uncaught exceptions while `url` loads."""
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url, wait_until="networkidle")
    return errors


def test_every_page_loads_without_console_errors(site: Path, base_url: str, page: Page) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    failures: dict[str, list[str]] = {}
    for path in built_pages(site):
        errors = page_errors(page, base_url + path)
        if errors:
            failures[path or "/"] = errors
        name = path.strip("/").replace("/", "_") or "home"
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
    assert failures == {}


def test_the_navigation_reaches_every_page(site: Path, base_url: str, page: Page) -> None:
    reached: set[str] = set()
    waiting = [base_url]
    while waiting:
        url = waiting.pop()
        page.goto(url)
        for link in page.eval_on_selector_all("nav.md-nav a.md-nav__link[href]", "links => links.map(a => a.href)"):
            target = link.split("#")[0]
            if target.startswith(base_url) and target not in reached:
                reached.add(target)
                waiting.append(target)
    assert {base_url + path for path in built_pages(site)} - reached == set()


SEARCH_HANG_GUARD_MS = 180_000
"""The search builds its index in the page on the first query: on a loaded machine (the
other test worker running replica processes) that takes tens of seconds. A hang guard,
not a speed check: no answer at all is what fails."""


@pytest.mark.parametrize("query", SEARCHES)
def test_search_answers(base_url: str, page: Page, query: str) -> None:
    page.goto(base_url)
    page.keyboard.press("/")  # the site's shortcut that opens search
    page.fill("input.md-search__input", query)
    first = page.locator(".md-search-result__item").first
    first.wait_for(state="visible", timeout=SEARCH_HANG_GUARD_MS)
    words = [word.lower() for word in re.split(r"[ _]", query)]
    assert any(word in first.inner_text().lower() for word in words), first.inner_text()


def test_every_diagram_is_present_and_visible(site: Path, base_url: str, page: Page) -> None:
    expected = {"": 1, "ledger/": 2, "checker/": 20}
    for path, count in expected.items():
        page.goto(base_url + path)
        diagrams = page.locator("svg.fedspec-diagram")
        assert diagrams.count() == count, path
        for index in range(count):
            diagram = diagrams.nth(index)
            diagram.scroll_into_view_if_needed()
            box = diagram.bounding_box()
            assert diagram.is_visible() and box is not None and box["width"] > 100 and box["height"] > 40, (path, index)


OVERFLOWING_TABLES = """() => Array.from(document.querySelectorAll('article table')).filter(table => {
    const column = table.closest('.md-typeset__scrollwrap') || table.parentElement;
    return table.scrollWidth > column.clientWidth + 1;
}).map(table => table.querySelector('th, td')?.innerText.slice(0, 40))"""


def test_no_table_overflows_its_column_at_1280_pixels(site: Path, base_url: str, page: Page) -> None:
    overflowing: dict[str, list[str]] = {}
    for path in built_pages(site):
        page.goto(base_url + path)
        found = page.evaluate(OVERFLOWING_TABLES)
        if found:
            overflowing[path or "/"] = found
    assert overflowing == {}
