"""The compliance report as XLSX (openpyxl) and PDF (fpdf2, core fonts: Latin-1 only) for the
regent's office and the Ombudsman visit, written from the same dict the API answers
(projections/compliance.report_json), and its monthly trend chart (SVG, also in the page)."""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill

from .web.charts import line_chart

TITLE = "Laporan Kepatuhan Standar Pelayanan"
# (key in the report's lines, column heading)
COLUMNS = (
    ("unit", "Unit (OPD)"),
    ("service_code", "Kode layanan"),
    ("service_name", "Layanan"),
    ("sla_days", "Standar (hari kerja)"),
    ("applications", "Permohonan"),
    ("decided", "Diputus"),
    ("measured", "Terukur"),
    ("within_standard", "Tepat waktu"),
    ("within_pct", "% tepat waktu"),
    ("median_days", "Median (hari kerja)"),
    ("p90_days", "P90 (hari kerja)"),
    ("open_at_end", "Terbuka di akhir periode"),
    ("open_over_standard", "Terbuka melewati standar"),
    ("zone", "Zona"),
)
TREND_COLUMNS = (("month", "Bulan"), *COLUMNS[4:])
RULES = (
    "Permohonan: diterima dalam periode. Diputus: terbit atau ditolak dalam periode (pembatalan "
    "tidak dihitung). Waktu proses: hari kerja dari berkas lengkap sampai keputusan, tanpa hari "
    "libur nasional, cuti bersama, dan hari ketika jam layanan dihentikan (menunggu pemohon). "
    "Tepat waktu: waktu proses <= standar layanan; persentase dari keputusan yang terukur. "
    "Terbuka: belum selesai pada akhir periode; melewati standar bila hari kerjanya sudah lebih."
)
ZONE_FILL = {"hijau": "C6F6D5", "kuning": "FEFCBF", "merah": "FED7D7"}
_NEXT = {"new_x": XPos.LMARGIN, "new_y": YPos.NEXT}


def trend_chart(report: dict[str, Any]) -> str:
    """The monthly share decided within the standard, with the green zone's bound, as SVG."""
    points = [(m["month"], m["within_pct"]) for m in report["trend"]]
    return line_chart(
        "Persentase diputus tepat waktu per bulan",
        points,
        unit=" %",
        target=report["zones"]["green_min_pct"],
        target_label="Batas zona hijau",
        y_max=100,
    )


def to_xlsx(report: dict[str, Any]) -> bytes:
    """Sheet 'Laporan' (a row per unit and service, then the total) and sheet 'Tren'."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Laporan"
    period = report["period"]
    sheet.append([TITLE])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(["Periode", period["from"], period["to"]])
    sheet.append([_zones_text(report)])
    sheet.append([])
    _table(sheet, COLUMNS, [*report["lines"], {"unit": "Jumlah", **report["total"]}])
    trend = book.create_sheet("Tren")
    _table(trend, TREND_COLUMNS, report["trend"])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _table(sheet, columns, rows) -> None:
    sheet.append([heading for _, heading in columns])
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([row.get(key) for key, _ in columns])
        fill = ZONE_FILL.get(row.get("zone"))
        if fill:
            sheet.cell(sheet.max_row, len(columns)).fill = PatternFill("solid", fgColor=fill)
    for i, (_, heading) in enumerate(columns, 1):
        sheet.column_dimensions[sheet.cell(1, i).column_letter].width = max(10, len(heading) + 2)


def _zones_text(report: dict[str, Any]) -> str:
    z = report["zones"]
    return (
        f"Zona dari % tepat waktu: hijau >= {_num(z['green_min_pct'])}, kuning >= "
        f"{_num(z['yellow_min_pct'])}, merah di bawahnya. Sumber: {z['source']}"
    )


_PDF_WIDTHS = (40, 22, 42, 16, 18, 14, 14, 14, 16, 16, 14, 18, 18, 15)


def to_pdf(report: dict[str, Any], now: dt.datetime | None = None) -> bytes:
    """A landscape A4: the table (zone-coloured), the total, the trend chart and the rules."""
    made = (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%d %H:%M UTC")
    pdf = FPDF(orientation="L")
    pdf.set_title(TITLE)
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(0, 9, TITLE, **_NEXT)
    pdf.set_font("Helvetica", size=9)
    period = report["period"]
    pdf.cell(0, 5, f"Periode {period['from']} s.d. {period['to']}   Dibuat: {made}", **_NEXT)
    pdf.multi_cell(0, 5, _latin1(_zones_text(report)), **_NEXT)
    pdf.ln(2)
    _pdf_row(pdf, [h for _, h in COLUMNS], bold=True)
    for line in report["lines"]:
        _pdf_row(pdf, [_cell(line.get(k)) for k, _ in COLUMNS], zone=line["zone"])
    total = {"unit": "Jumlah", **report["total"]}
    _pdf_row(pdf, [_cell(total.get(k)) for k, _ in COLUMNS], bold=True, zone=total["zone"])
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 11)
    pdf.cell(0, 7, "Tren per bulan (semua unit)", **_NEXT)
    pdf.image(io.BytesIO(_printable(trend_chart(report)).encode()), x=10, w=200)
    pdf.set_font("Helvetica", size=8)
    pdf.multi_cell(0, 4, RULES, **_NEXT)
    return bytes(pdf.output())


def _pdf_row(pdf: FPDF, cells: list[str], *, bold: bool = False, zone: str | None = None) -> None:
    pdf.set_font("Helvetica", "B" if bold else "", 7 if bold else 8)
    height = 10.5 if bold else 6
    if pdf.will_page_break(height):
        pdf.add_page()
    for i, (text, width) in enumerate(zip(cells, _PDF_WIDTHS, strict=True)):
        fill = i == len(cells) - 1 and zone in ZONE_FILL
        if fill:
            pdf.set_fill_color(*bytes.fromhex(ZONE_FILL[zone]))
        text = _latin1(text)
        if bold:
            pdf.multi_cell(width, height, text, border=1, fill=fill, align="L", new_x=XPos.RIGHT,
                           new_y=YPos.TOP, max_line_height=3.5)  # fmt: skip
        else:
            pdf.cell(width, height, _fit(pdf, text, width), border=1, fill=fill)
    pdf.ln(height)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    while text and pdf.get_string_width(text) > width - 2:
        text = text[:-2] + "."
    return text


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    return _num(value) if isinstance(value, float) else str(value)


def _num(value: float) -> str:
    """Indonesian decimal comma; whole numbers without decimals."""
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}".replace(".", ",")


def _latin1(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _printable(svg: str) -> str:
    """The chart without its accessibility elements, which fpdf2's SVG reader does not draw."""
    return re.sub(r"<(title|desc)[^>]*>.*?</\1>", "", svg, flags=re.S)
