"""A person's audit entries for the citizen who asked "who read my data" (UU 27/2022): CSV for
a spreadsheet, PDF to hand over (fpdf2, core fonts: text outside Latin-1 is replaced)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Sequence

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from .entries import AuditEntry

COLUMNS = ("seq", "at", "who", "role", "purpose", "purpose_note", "action", "person_id", "client")
_NEXT = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}  # the next line
_PDF_COLUMNS = (("at", 40), ("who", 30), ("role", 24), ("purpose", 34), ("action", 30))


def _row(e: AuditEntry) -> dict[str, str]:
    out = {c: "" if getattr(e, c) is None else str(getattr(e, c)) for c in COLUMNS}
    out["at"] = e.at.strftime("%Y-%m-%d %H:%M:%S") + " UTC"
    return out


def to_csv(entries: Sequence[AuditEntry]) -> str:
    """The entries as CSV with a header row (times in UTC)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for e in entries:
        writer.writerow(_row(e))
    return buf.getvalue()


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def to_pdf(entries: Sequence[AuditEntry], subject: str, now: dt.datetime | None = None) -> bytes:
    """The entries as a one-table PDF titled for `subject` (a masked NIK or a person id)."""
    made = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    pdf = FPDF(orientation="L")
    pdf.set_title("Catatan akses data pribadi")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 10, "Catatan akses data pribadi / Record of reads of personal data", **_NEXT)
    pdf.set_font("Helvetica", size=10)
    pdf.cell(0, 6, _latin1(f"Subjek: {subject}   Dibuat: {made}   Jumlah: {len(entries)}"), **_NEXT)
    pdf.ln(2)
    pdf.set_font("Helvetica", "B", 9)
    for name, width in _PDF_COLUMNS:
        pdf.cell(width, 7, name, border=1)
    pdf.cell(0, 7, "client", border=1, **_NEXT)
    pdf.set_font("Helvetica", size=9)
    for e in entries:
        row = _row(e)
        for name, width in _PDF_COLUMNS:
            pdf.cell(width, 6, _latin1(row[name])[:40], border=1)
        pdf.cell(0, 6, _latin1(row["client"]), border=1, **_NEXT)
    return bytes(pdf.output())
