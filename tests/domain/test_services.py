"""The service standards table: the SLAs the MPP promises."""

from __future__ import annotations

import pytest

from domain.services import BY_CODE, SERVICES, service, services_of


def test_service_standards_from_the_design():
    assert {s.code: s.sla_days for s in SERVICES} == {
        "SIP_DOKTER": 9,
        "SIP_BIDAN": 12,
        "SIP_PERAWAT": 15,
        "SIA": 24,
        "PBG": 28,
        "SLF": 3,
        "REKLAME": 5,
        "ITR": 7,
        "KKPR": 25,
        "SKCK": 0,
        "KK": 3,
    }


def test_codes_are_unique_and_indexed():
    assert len(BY_CODE) == len(SERVICES)
    assert service("PBG").name == "Persetujuan Bangunan Gedung"


def test_unknown_code_names_itself():
    with pytest.raises(KeyError, match="NOPE"):
        service("NOPE")


def test_services_of_an_agency():
    assert [s.code for s in services_of("pupr")] == ["PBG", "SLF"]
    assert [s.code for s in services_of("polres")] == ["SKCK"]
    assert services_of("nobody") == ()
