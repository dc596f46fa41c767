"""The counter pages against `mpphub demo` (the sample agencies captured through Kafka, resolved
and projected): the officer the demo printed logs in, finds the first resident by NIK, tracks a
sample application by its number and opens its slip, in Debian's chromium; no NIK or KK number
of the sample databases reaches the officer's browser."""

from __future__ import annotations

import re
import signal
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from ops.processes import wait_for
from tests.browser.harness import log_in
from tests.ops.demo_samples import SEED, sample_numbers
from tests.ops.test_demo import _Demo

pytestmark = pytest.mark.integration

PEOPLE, PERMITS = 30, 10  # tests/ops/test_demo.py RUN_DEMO


def sample_application() -> str:
    """The application number of the demo's first sample permit (the sample is deterministic)."""
    from ops.samples import create_siak, create_sicantik

    with tempfile.TemporaryDirectory() as d:
        siak = sa.create_engine(f"sqlite:///{Path(d) / 'siak.db'}")
        sicantik = sa.create_engine(f"sqlite:///{Path(d) / 'sicantik.db'}")
        population = create_siak(siak, n_people=PEOPLE, seed=SEED)
        create_sicantik(sicantik, population, n_permits=PERMITS, seed=SEED)
        with sicantik.connect() as conn:
            number = conn.scalar(sa.text("SELECT min(no_pendaftaran) FROM tmpermohonan"))
        siak.dispose()
        sicantik.dispose()
    return number


def test_counter_pages_work_against_the_demo(tmp_path: Path, page) -> None:
    residents, numbers = sample_numbers(PEOPLE, PERMITS)
    application = sample_application()
    demo = _Demo(tmp_path)
    demo.start()
    try:
        demo.wait_ready(240)
        base = f"http://127.0.0.1:{demo.api_port}"
        officer = re.search(r"^\s+officer\s+(\S+)\s+(\S+)$", demo.text(), re.M)
        assert officer, demo.text()[-3000:]
        log_in(page, base, officer.group(1), officer.group(2))

        def found_by_nik() -> bool:
            page.goto(f"{base}/")
            page.get_by_label("Cari berdasarkan").select_option("nik")
            page.get_by_label("Nama, NIK atau nomor KK").fill(residents[0])
            page.get_by_role("button", name="Cari").click()
            page.wait_for_load_state()
            return "/warga/" in page.url

        assert wait_for(found_by_nik, 180, 1.0), "the first resident was never projected"
        assert page.locator("#data-identitas").is_visible()
        html = page.content()
        assert not [n for n in numbers if n in html]

        def tracked() -> bool:
            return page.goto(f"{base}/permohonan?no={application}").status == 200

        assert wait_for(tracked, 120, 1.0), f"{application} was never projected"
        assert application in page.locator(".permit h2").inner_text()
        page.get_by_role("link", name="Buka slip status untuk dicetak").click()
        page.wait_for_url(lambda url: "/permohonan/slip" in url)
        assert page.locator("article.slip").is_visible()
        html = page.content()
        assert not [n for n in numbers if n in html]
        demo.proc.send_signal(signal.SIGINT)
        assert demo.proc.wait(120) == 0, demo.text()[-3000:]
    finally:
        demo.cleanup()
