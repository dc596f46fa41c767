"""The fixed list of purposes a read of personal data states."""

from __future__ import annotations

import pytest

from domain.purposes import NOTE_MAX, PURPOSES, UnknownPurpose, purpose, purpose_note


def test_a_listed_code_is_its_purpose_whatever_its_case_or_spaces():
    assert purpose(" Service_Delivery ").code == "service_delivery"


@pytest.mark.parametrize("code", [None, "", "curiosity", "layanan SIP", "service delivery"])
def test_a_code_outside_the_list_is_refused_naming_the_list(code):
    with pytest.raises(UnknownPurpose) as e:
        purpose(code)
    assert all(c in str(e.value) for c in PURPOSES)


def test_the_note_is_trimmed_empty_is_none_and_too_long_is_refused():
    assert purpose_note("  surat 12/2026 ") == "surat 12/2026"
    assert purpose_note("   ") is None
    with pytest.raises(ValueError, match=str(NOTE_MAX)):
        purpose_note("x" * (NOTE_MAX + 1))
