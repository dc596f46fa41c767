"""The pages' date filters: the hub's own times (UTC) shown in the regency's zone with its
abbreviation; agencies' local times left as they are."""

import datetime as dt
import zoneinfo

from jinja2 import Environment

from ops.settings import HubSettings
from projections.web.render import ENV, waktu


def _hub(value: object, zone: str | None) -> str:
    template: Environment = ENV.from_string("{{ v | waktu_hub }}")
    tz = zoneinfo.ZoneInfo(zone) if zone else None
    return template.render(v=value, time_zone=tz)


def test_a_stored_utc_time_is_shown_in_wita_by_default() -> None:
    zone = HubSettings.from_env({}).api.time_zone
    assert zone == "Asia/Makassar"
    # 23.30 UTC on 16 August is already 17 August (Independence Day) in Makassar.
    assert _hub(dt.datetime(2026, 8, 16, 23, 30), zone) == "17 Agustus 2026 07.30 WITA"


def test_aware_times_and_iso_text_are_converted_too() -> None:
    aware = dt.datetime(2026, 7, 5, 1, 0, tzinfo=dt.UTC)
    assert _hub(aware, "Asia/Jakarta") == "5 Juli 2026 08.00 WIB"
    assert _hub("2026-07-05T01:00:00+00:00", "Asia/Jayapura") == "5 Juli 2026 10.00 WIT"


def test_nothing_and_text_that_is_not_a_time() -> None:
    assert _hub(None, "Asia/Makassar") == "-"
    assert _hub("besok", "Asia/Makassar") == "besok"
    assert _hub(dt.date(2026, 7, 5), "Asia/Makassar") == "5 Juli 2026"


def test_an_agency_local_time_is_shown_as_the_agency_stored_it() -> None:
    assert waktu(dt.datetime(2026, 7, 5, 8, 0)) == "5 Juli 2026 08.00"


def test_the_zone_is_configurable() -> None:
    settings = HubSettings.from_env({"MPPHUB_TIME_ZONE": "Asia/Jayapura"})
    assert settings.api.time_zone == "Asia/Jayapura"
