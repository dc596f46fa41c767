"""Workers read the identity log's committed records only (eventlog/committed.py): its consumer
is made read_committed, as Faust does only in its exactly_once mode."""

from __future__ import annotations

import asyncio
import warnings

from eventlog.committed import CommittedReadingApp
from streams.app import HubApp


def _isolation(app_class: type) -> str:
    async def made() -> str:
        app = app_class("t-committed", broker="kafka://127.0.0.1:1", web_enabled=False)
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        consumer._closed = True  # never started: nothing to close
        return consumer._isolation_level

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        return asyncio.run(made())


def test_the_hub_worker_and_the_projection_only_worker_read_committed() -> None:
    assert _isolation(HubApp) == "read_committed"
    assert _isolation(CommittedReadingApp) == "read_committed"
