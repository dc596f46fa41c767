"""Why a front-office user reads a person's data: the fixed list of purposes (UU 27/2022).

UU 27/2022 (art. 16, 20) lets a controller process personal data only for a stated, lawful
purpose. Every read of personal data names one of these codes and may add free text (which
letter, which counter ticket); a code outside the list is refused, so the audit can be counted
by purpose and a free-text excuse is never the only record of why someone looked.
"""

from __future__ import annotations

from dataclasses import dataclass

NOTE_MAX = 500  # free text beside the code: a ticket or letter number, never a story


@dataclass(frozen=True)
class Purpose:
    """One lawful reason to read a person's data: a stable code and what it covers."""

    code: str
    label: str  # in Bahasa Indonesia, as the front office sees it
    covers: str


PURPOSES: dict[str, Purpose] = {
    p.code: p
    for p in (
        Purpose(
            "service_delivery",
            "Pelayanan permohonan",
            "serving the citizen at the counter or online: an application, its permits",
        ),
        Purpose(
            "data_correction",
            "Perbaikan data atas permintaan warga",
            "correcting the citizen's data at their own request (UU 27/2022 art. 6)",
        ),
        Purpose(
            "identity_review",
            "Verifikasi identitas ganda",
            "deciding whether two agency records are the same person",
        ),
        Purpose(
            "data_quality",
            "Perbaikan kualitas data instansi",
            "an agency fixing findings in its own source records",
        ),
        Purpose(
            "complaint",
            "Penanganan pengaduan",
            "a complaint by the citizen or the Ombudsman about a service",
        ),
        Purpose(
            "access_request",
            "Permintaan akses data subjek",
            "telling the citizen who read their data (UU 27/2022 art. 7)",
        ),
        Purpose(
            "legal_obligation",
            "Kewajiban hukum",
            "a court order or a law-enforcement request with a letter number in the note",
        ),
    )
}


class UnknownPurpose(ValueError):
    """A purpose code outside the fixed list (the message lists the codes, never echoes text)."""


def purpose(code: str | None) -> Purpose:
    """The purpose with this code; UnknownPurpose for none or any code outside PURPOSES."""
    found = PURPOSES.get((code or "").strip().lower())
    if found is None:
        raise UnknownPurpose(f"state a purpose, one of: {', '.join(PURPOSES)}")
    return found


def purpose_note(text: str | None) -> str | None:
    """The free text beside a purpose, trimmed; None when empty; ValueError past NOTE_MAX."""
    text = (text or "").strip()
    if len(text) > NOTE_MAX:
        raise ValueError(f"the purpose note is at most {NOTE_MAX} characters")
    return text or None
