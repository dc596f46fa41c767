"""The pages' navigation: one NavItem per page, shown only to the roles that may open it.

Each page adds its one line to NAV (path, label in Bahasa Indonesia, roles of access.ROLES).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..access import Caller


@dataclass(frozen=True)
class NavItem:
    """A link in the navigation bar: where, what it says, which roles see it."""

    path: str
    label: str
    roles: frozenset[str]


def item(path: str, label: str, *roles: str) -> NavItem:
    return NavItem(path, label, frozenset(roles))


NAV: list[NavItem] = [
    item("/", "Cari warga", "officer", "supervisor"),
    item("/permohonan", "Lacak permohonan", "officer", "supervisor"),
    item("/papan-sla", "Papan SLA", "supervisor", "agency_admin"),
    item("/tinjauan-identitas", "Tinjauan identitas", "supervisor"),
    item("/laporan/kepatuhan", "Laporan kepatuhan", "supervisor", "auditor"),
    item("/kualitas-data", "Kualitas data", "supervisor", "agency_admin"),
    item("/kesehatan-pipeline", "Kesehatan pipeline", "supervisor"),
]


def visible(caller: Caller | None) -> list[NavItem]:
    """The items this caller's role may open (none without a caller)."""
    if caller is None:
        return []
    return [n for n in NAV if caller.role.name in n.roles]
