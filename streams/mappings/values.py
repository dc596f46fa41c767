"""Column values in canonical form: converters (`to_date`) and row getters (`date("TGL_LHR")`).

Values arrive typed (Avro logical types) or as text (file exports, VARCHAR columns); both are
accepted. A failure is a MappingError naming the column, never the value (personal data).
"""

from __future__ import annotations

import datetime as dt
import decimal
import re
from collections.abc import Callable, Mapping
from typing import Any

from domain.nik import Sex, parse_sex
from schemas.names import avro_name

from .errors import MappingError

Row = Mapping[str, Any]
Getter = Callable[[Row], Any]

_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")


def column(row: Row, name: str) -> Any:
    """The value of source column `name` in a row (by its Avro field name, case-insensitively
    as a fallback: some databases report identifiers in another case); None when absent."""
    field = avro_name(name)
    if field in row:
        return row[field]
    lower = field.lower()
    for k, v in row.items():
        if k.lower() == lower:
            return v
    return None


def _kind(value: Any) -> str:
    return type(value).__name__


# --- converters: one value -> canonical value (None stays None) ------------------------------


def to_text(value: Any) -> str | None:
    """Text without surrounding blanks (CHAR padding); None for null or blank."""
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    text = value.strip() if isinstance(value, str) else str(value)
    return text or None


def to_int(value: Any) -> int | None:
    """An integer from int, integral float/decimal or digit text; ValueError otherwise."""
    if value is None or isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float | decimal.Decimal):
        if value != int(value):
            raise ValueError("not a whole number")
        return int(value)
    text = to_text(value)
    if text is None:
        return None
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ValueError("not an integer")
    return int(text)


def to_date(value: Any) -> dt.date | None:
    """A date from date/datetime, ISO text (2025-08-17, with or without a time) or d-m-Y text."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    text = to_text(value)
    if text is None:
        return None
    m = _DMY.match(text)
    try:
        if m:
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
        return (
            dt.datetime.fromisoformat(text).date()
            if len(text) > 10
            else dt.date.fromisoformat(text)
        )
    except ValueError:
        raise ValueError("not a date") from None


def to_timestamp(value: Any) -> dt.datetime | None:
    """An aware datetime; naive values (agency wall-clock time) are labelled UTC, as the
    connectors carry them, so the value read equals the value in the source."""
    if value is None:
        return None
    if isinstance(value, str):
        text = to_text(value)
        if text is None:
            return None
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("not a timestamp") from None
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, dt.datetime):
        raise ValueError("not a timestamp")
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


_TRUE = {"1", "true", "t", "y", "yes", "ya"}
_FALSE = {"0", "false", "f", "n", "no", "tidak"}


def to_bool(value: Any) -> bool | None:
    """A boolean from bool, 0/1 or the usual words (1/0, true/false, Y/N, ya/tidak)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value != 0
    text = to_text(value)
    if text is None:
        return None
    if text.lower() in _TRUE:
        return True
    if text.lower() in _FALSE:
        return False
    raise ValueError("not a yes/no value")


# --- getters: row -> canonical value, errors naming the column --------------------------------


def get(name: str, convert: Callable[[Any], Any], what: str) -> Getter:
    """A getter of column `name` through `convert`; a failure names the column and `what`."""

    def getter(row: Row) -> Any:
        value = column(row, name)
        try:
            return convert(value)
        except (ValueError, TypeError, OverflowError, ArithmeticError):
            raise MappingError(
                f"column {name}: expected {what}, got a value of type {_kind(value)}"
            ) from None

    getter.column = name  # type: ignore[attr-defined]
    return getter


def text(name: str) -> Getter:
    """The column as text."""
    return get(name, to_text, "text")


def integer(name: str) -> Getter:
    """The column as an integer."""
    return get(name, to_int, "an integer")


def date(name: str) -> Getter:
    """The column as a date."""
    return get(name, to_date, "a date")


def timestamp(name: str) -> Getter:
    """The column as an aware datetime (wall clock labelled UTC when naive)."""
    return get(name, to_timestamp, "a timestamp")


def boolean(name: str) -> Getter:
    """The column as a boolean."""
    return get(name, to_bool, "a yes/no value")


def sex(name: str) -> Getter:
    """The column as 'L'/'P' (SIAK 1/2, L/P, LAKI-LAKI/PEREMPUAN); None for an unknown code
    (see unknown_code for the finding)."""

    def convert(value: Any) -> str | None:
        parsed = parse_sex(to_int(value) if _digits(value) else value)
        return parsed.value if parsed is not None else None

    return get(name, convert, "a sex code")


def coded(name: str, words: Mapping[int, str]) -> Getter:
    """A numeric code column translated to its word (e.g. AGAMA 1 -> ISLAM); an unknown code is
    kept as its digits, and a column that already holds a word is kept (upper case)."""

    def convert(value: Any) -> str | None:
        if value is None:
            return None
        if _digits(value):
            code = to_int(value)
            return words.get(code, str(code)) if code is not None else None
        word = to_text(value)
        return word.upper() if word else None

    return get(name, convert, "a code")


def enum_code(name: str, symbols: Mapping[int, str]) -> Getter:
    """A numeric code column mapped to an enum symbol; an unknown code is a MappingError (the
    event cannot be represented, so it becomes a dead letter with the column named)."""

    def getter(row: Row) -> str | None:
        value = column(row, name)
        try:
            code = to_int(value)
        except ValueError:
            raise MappingError(
                f"column {name}: expected a code, got a value of type {_kind(value)}"
            ) from None
        if code is None:
            return None
        if code not in symbols:
            raise MappingError(
                f"column {name}: unknown code {code} (known: {', '.join(map(str, symbols))})"
            )
        return symbols[code]

    getter.column = name  # type: ignore[attr-defined]
    return getter


def region_code(
    default_prefix: str, *, district: str, regency: str | None = None, province: str | None = None
) -> Getter:
    """A 6-digit kecamatan code from numeric columns (NO_KEC, optionally with NO_PROP/NO_KAB);
    without province/regency columns (or when they are null) `default_prefix` (e.g. '7413',
    the agency's own regency) supplies them. A column already holding 6 digits is kept."""

    def getter(row: Row) -> str | None:
        kec = _code(row, district)
        if kec is None:
            return None
        if kec >= 10000:  # already the full code
            return f"{kec:06d}"
        prop = _code(row, province) if province else None
        kab = _code(row, regency) if regency else None
        prefix = f"{prop:02d}{kab:02d}" if prop is not None and kab is not None else default_prefix
        return f"{prefix}{kec:02d}"

    getter.column = district  # type: ignore[attr-defined]
    return getter


def village_code(district_code: Getter, village: str) -> Getter:
    """A 10-digit kelurahan code: the district code and the 4-digit NO_KEL."""

    def getter(row: Row) -> str | None:
        kel = _code(row, village)
        kec = district_code(row)
        if kel is None or kec is None:
            return None
        return f"{kec}{kel:04d}" if kel < 10000 else f"{kel:010d}"

    getter.column = village  # type: ignore[attr-defined]
    return getter


def _code(row: Row, name: str) -> int | None:
    value = column(row, name)
    try:
        return to_int(value)
    except ValueError:
        raise MappingError(
            f"column {name}: expected a region code number, got a value of type {_kind(value)}"
        ) from None


def _digits(value: Any) -> bool:
    if isinstance(value, int) and not isinstance(value, bool):
        return True
    return isinstance(value, str) and value.strip().isdigit()


def parse_recorded_sex(value: str | None) -> Sex | None:
    """The Sex of a canonical 'L'/'P' value (None stays None)."""
    return Sex(value) if value in ("L", "P") else None
