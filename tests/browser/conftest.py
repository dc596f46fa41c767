"""Fixtures of the browser tests: one headless Debian chromium per session (Playwright for
Python, launched by executable_path), and a page per test in a 1366x768 window whose screenshot
is saved as <test name>.png under the test's output directory (tmp_path) at the end."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from tests.browser.harness import CHROMIUM

VIEWPORT = {"width": 1366, "height": 768}  # the MPP's office PCs
WAIT_MS = 10_000  # the longest a page waits for a condition (never a fixed sleep)


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """Debian's chromium, headless (no sandbox: the tests may run as root in a container).
    One per module, not per session: Playwright's sync API keeps an asyncio loop running in the
    main thread while it is started, and every later test calling asyncio.run() would fail."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's package with `apt-get install chromium`"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request, tmp_path) -> Iterator[object]:
    """A fresh browser context and page (no cookies from another test); a full-page screenshot
    under tmp_path at teardown, also when the test failed."""
    context = chromium.new_context(viewport=VIEWPORT, locale="id-ID")
    context.set_default_timeout(WAIT_MS)
    pg = context.new_page()
    try:
        yield pg
    finally:
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
        try:
            pg.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        finally:
            context.close()
