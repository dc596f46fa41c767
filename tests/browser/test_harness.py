"""The browser harness works end to end: Debian's chromium logs in through the real login form,
states the purpose of access and lands on the home page with the user's navigation."""

from __future__ import annotations

import pytest

from tests.browser.harness import add_user, live_server, log_in, make_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    app = make_app(tmp_path_factory.mktemp("harness"))
    add_user(app, "petugas1", "officer")
    with live_server(app) as base:
        yield base


def test_officer_logs_in_states_a_purpose_and_lands_on_the_home_page(page, server):
    log_in(page, server, "petugas1", "correct horse battery staple")
    assert page.url == f"{server}/"
    assert page.get_by_role("heading", name="Cari warga").is_visible()
    assert page.get_by_label("Nama, NIK atau nomor KK").is_visible()
    header = page.locator("header").inner_text()
    assert "Petugas loket" in header and "Pelayanan permohonan" in header
    assert page.get_by_role("navigation").get_by_role("link", name="Cari warga").is_visible()


def test_without_a_session_a_page_sends_to_login_and_back(page, server):
    page.goto(f"{server}/tujuan")
    assert "/login?next=/tujuan" in page.url
    log_in(page, server, "petugas1", "correct horse battery staple")
    page.goto(f"{server}/login?next=/tujuan")
    page.get_by_label("Nama pengguna").fill("petugas1")
    page.get_by_label("Kata sandi").fill("correct horse battery staple")
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(f"{server}/tujuan")
    assert page.get_by_role("heading", name="Tujuan akses data pribadi").is_visible()
