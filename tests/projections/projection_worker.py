"""The projection worker as a subprocess of the integration tests (so it can be killed -9).

Settings come from MPPHUB_* variables; the test topics from MPPHUB_TEST_PROJECTION_TOPICS
(person,permit,service,identity). A short session timeout lets a restarted worker get its partitions
back in seconds after its predecessor was killed.
"""

from __future__ import annotations

import logging
import os

from ops.settings import HubSettings
from ops.worker import run_projections_only
from projections.facts import ProjectionTopics


def main() -> None:
    person, permit, service, identity = os.environ["MPPHUB_TEST_PROJECTION_TOPICS"].split(",")
    logging.basicConfig(level=logging.INFO)
    run_projections_only(
        HubSettings.from_env(),
        topics=ProjectionTopics(person, permit, service, identity),
        session_timeout_s=6.0,
        heartbeat_interval_s=1.0,
    )


if __name__ == "__main__":
    main()
