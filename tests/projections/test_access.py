"""Roles, purposes and the agency binding of a caller (projections.access)."""

from __future__ import annotations

import pytest

from projections.access import ROLES, AccessDenied, Caller


def test_the_four_roles_and_what_sets_them_apart():
    assert set(ROLES) == {"officer", "supervisor", "auditor", "agency_admin"}
    assert [r for r in ROLES if ROLES[r].sees_full_nik] == ["supervisor"]
    assert [r for r in ROLES if ROLES[r].decides_reviews] == ["supervisor"]
    assert [r for r in ROLES if ROLES[r].reads_audit] == ["auditor"]
    assert [r for r in ROLES if ROLES[r].agency_bound] == ["agency_admin"]


def test_stating_a_listed_purpose_keeps_the_code_and_the_note():
    c = Caller("kabid", ROLES["supervisor"], None).stating("complaint", " tiket 7 ")
    assert (c.purpose, c.purpose_note, c.who) == ("complaint", "tiket 7", "kabid")


def test_a_purpose_outside_the_list_is_a_422():
    with pytest.raises(AccessDenied) as e:
        Caller("kabid", ROLES["supervisor"], None).stating("curious")
    assert e.value.status == 422


def test_an_agency_admin_sees_only_their_own_agency():
    admin = Caller("adm", ROLES["agency_admin"], None, agency="dukcapil")
    assert admin.may_see_agency("DUKCAPIL") and not admin.may_see_agency("dpmptsp")
    assert not admin.may_see_agency(None)
    unbound = Caller("adm", ROLES["agency_admin"], None)
    assert not unbound.may_see_agency("dukcapil")
    assert Caller("p", ROLES["officer"], None).may_see_agency("dpmptsp")
