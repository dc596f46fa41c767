"""A mapping file's declarations turned into mapping functions: each field a getter of the row
(values.py), each table a function of a RawChange, by the kind of event it emits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

from domain.services import BY_CODE

from ..canonical import APPLICATION, DELETED, STATUS, Canonical, PermitEvent, ServiceEvent
from .change import RawChange
from .checks import CHECKS
from .declaration import EVENT_FIELDS, AgencyDecl, FieldDecl, TableDecl, codes_of, field_of
from .errors import MappingError
from .person import PersonSpec, person_facts
from .plugins import load_plugin
from .values import (
    Getter,
    Row,
    boolean,
    column,
    date,
    get,
    integer,
    region_code,
    sex,
    text,
    timestamp,
    to_date,
    to_int,
    to_text,
    to_timestamp,
    village_code,
)

Mapper = Callable[[RawChange], list[Canonical]]


def table_mapper(agency: AgencyDecl, table: TableDecl) -> Mapper:
    """The mapping function of one declared table."""
    if table.plugin:
        return load_plugin(table.plugin)
    getters = {
        name: getter(agency, name, field_of(f, EVENT_FIELDS[table.emits][name]))
        for name, f in table.fields.items()
    }
    return _BUILDERS[table.emits](table, getters)


# --- getters ------------------------------------------------------------------------------------


def getter(agency: AgencyDecl, name: str, f: FieldDecl) -> Getter:
    """The getter of one field declaration (its type settled by field_of)."""
    col = f.column or ""
    kind = f.type
    if kind == "constant":
        return lambda row, v=f.value: v
    if kind in ("region", "village"):
        district = region_code(
            f.prefix or agency.region_prefix or "",
            district=f.district or "",
            regency=f.regency,
            province=f.province,
        )
        return district if kind == "region" else village_code(district, f.village or "")
    if kind == "code":
        strict = name in ("status", "outcome")
        # An unknown code is kept as written only where the field holds text.
        keep = _TEXT_FIELDS.get(name) == "text"
        g = code(col, codes_of(agency, f) or {}, strict=strict, keep_unknown=keep)
        return _sex_of(g) if name == "sex" else g
    if kind == "standard":
        g = standard(col, f.attribute or name)
    elif kind == "ref":
        g = ref(col, f.ref or "{agency}:{id}", agency.agency, f.id_type)
    elif kind in ("date", "timestamp") and f.format:
        g = formatted(col, f.format, kind)
    else:
        g = _SIMPLE[kind or "text"](col)
    return _with_default(g, f.default) if f.default is not None else g


_SIMPLE: dict[str, Callable[[str], Getter]] = {
    "text": text,
    "integer": integer,
    "date": date,
    "timestamp": timestamp,
    "boolean": boolean,
    "sex": sex,
}


_TEXT_FIELDS = {k: v for fields in EVENT_FIELDS.values() for k, v in fields.items()}


def code(
    name: str, table: Mapping[int | str, Any], *, strict: bool, keep_unknown: bool = True
) -> Getter:
    """A code column translated by its table (`1: ISLAM`, `A: AKTIF`). A code the table does not
    know is a MappingError when `strict` (the hub's closed sets: it cannot be represented), else
    kept as written (digits, or the word in upper case)."""
    words = {_code_key(k): v for k, v in table.items()}
    known = ", ".join(str(k) for k in table)

    def getter(row: Row) -> Any:
        value = column(row, name)
        try:
            key = _code_key(value)
        except ValueError:
            raise MappingError(
                f"column {name}: expected a code, got a value of type {type(value).__name__}"
            ) from None
        if key is None:
            return None
        if key in words:
            return words[key]
        if strict:  # a word is not echoed: a wrongly mapped column may hold personal data
            shown = key if key.isdigit() else f"(a word of {len(key)} characters)"
            raise MappingError(f"column {name}: unknown code {shown} (known: {known})")
        return key if keep_unknown else None

    getter.column = name  # type: ignore[attr-defined]
    return getter


def _code_key(value: Any) -> str | None:
    """A code as the table's key text: integers without leading zeros, words in upper case."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError("a yes/no value is no code")
    if not isinstance(value, str | bytes):
        return str(to_int(value))
    word = to_text(value)
    if word is None:
        return None
    return str(int(word)) if word.isdigit() else word.upper()


def _sex_of(g: Getter) -> Getter:
    def getter(row: Row) -> str | None:
        value = g(row)
        return value if value in ("L", "P") else None  # an unknown code: see the sex_code check

    getter.column = g.column  # type: ignore[attr-defined]
    return getter


def standard(name: str, attribute: str) -> Getter:
    """An attribute (sla_days, unit, name) of the hub's service standard whose code is in the
    column (domain/services.py): for agencies whose system does not record it. A code without
    a standard gives null (the permit is then measured against no SLA, and shows so)."""

    def getter(row: Row) -> Any:
        code = to_text(column(row, name))
        found = BY_CODE.get(code.upper()) if code else None
        return getattr(found, attribute) if found else None

    getter.column = name  # type: ignore[attr-defined]
    return getter


def ref(name: str, template: str, agency: str, id_type: str) -> Getter:
    """A reference to a row of another table of the agency: its id put into `template`."""

    def getter(row: Row) -> str | None:
        value = column(row, name)
        try:
            ident = to_int(value) if id_type == "integer" else to_text(value)
        except ValueError:
            raise MappingError(
                f"column {name}: expected an id, got a value of type {type(value).__name__}"
            ) from None
        return template.format(agency=agency, id=ident) if ident is not None else None

    getter.column = name  # type: ignore[attr-defined]
    return getter


def formatted(name: str, fmt: str, kind: str) -> Getter:
    """A date or timestamp written as text in the agency's own format (strptime `fmt`)."""
    typed = to_date if kind == "date" else to_timestamp

    def convert(value: Any) -> Any:
        if isinstance(value, str | bytes):
            txt = to_text(value)
            if txt is None:
                return None
            parsed = dt.datetime.strptime(txt, fmt)
            return parsed.date() if kind == "date" else to_timestamp(parsed)
        return typed(value)

    return get(name, convert, f"a {kind} as {fmt}")


def _with_default(g: Getter, default: Any) -> Getter:
    def getter(row: Row) -> Any:
        value = g(row)
        return default if value is None else value

    getter.column = getattr(g, "column", None)  # type: ignore[attr-defined]
    return getter


# --- tables -------------------------------------------------------------------------------------


def _person(table: TableDecl, getters: dict[str, Getter]) -> Mapper:
    nik = table.fields["nik"]
    spec = PersonSpec(
        nik=nik if isinstance(nik, str) else nik.column or "",
        fields={k: g for k, g in getters.items() if k != "nik"},
        key_columns=tuple(table.key),
        constants=dict(table.constants),
        checks=tuple((CHECKS.get(c.rule) or load_plugin(c.rule))(c.column) for c in table.checks),
        record_id_is_nik=table.record_id_is_nik,
    )
    if table.on_delete == "ignore":
        return lambda change: [] if change.is_delete else person_facts(change, spec)
    return lambda change: person_facts(change, spec)


def _common(change: RawChange, **ids: str) -> dict[str, Any]:
    return {
        **ids,
        "agency": change.agency,
        "source_position": change.position,
        "source_ts": change.source_ts,
    }


def _permit(table: TableDecl, getters: dict[str, Getter]) -> Mapper:
    def mapper(change: RawChange) -> list[Canonical]:
        permit_id = table.id.format(agency=change.agency, id=change.record_id(table.key))
        common = _common(change, permit_id=permit_id)
        if change.is_delete:
            return [] if table.on_delete == "ignore" else [PermitEvent(kind=DELETED, **common)]
        values = {name: g(change.row) for name, g in getters.items()}
        return [PermitEvent(kind=APPLICATION, **common, **table.constants, **values)]

    return mapper


def _permit_status(table: TableDecl, getters: dict[str, Getter]) -> Mapper:
    """A status-log row: one STATUS step. A log is insert-only: a deleted row does not undo a
    step that happened, so it maps to nothing (unless on_delete says otherwise: there is none)."""
    permit = getters["permit_id"]
    others = {k: g for k, g in getters.items() if k != "permit_id"}

    def mapper(change: RawChange) -> list[Canonical]:
        if change.is_delete:
            return []
        row = change.row
        permit_id = permit(row)
        if permit_id is None:
            col = getattr(permit, "column", "permit_id")
            raise MappingError(f"column {col}: a status-log row without its application")
        values = {name: g(row) for name, g in others.items()}
        common = _common(change, permit_id=permit_id)
        return [PermitEvent(kind=STATUS, **common, **table.constants, **values)]

    return mapper


def _service(table: TableDecl, getters: dict[str, Getter]) -> Mapper:
    """A service (permit type); a deleted one is inactive and deleted; active unless stated."""

    def mapper(change: RawChange) -> list[Canonical]:
        service_ref = table.id.format(agency=change.agency, id=change.record_id(table.key))
        common = _common(change, service_ref=service_ref)
        if change.is_delete:
            return [ServiceEvent(active=False, deleted=True, **common)]
        values = {**table.constants, **{name: g(change.row) for name, g in getters.items()}}
        active = values.pop("active", None)
        return [ServiceEvent(active=True if active is None else active, deleted=False,
                             **common, **values)]  # fmt: skip

    return mapper


def _nothing(table: TableDecl, getters: dict[str, Getter]) -> Mapper:
    return lambda change: []


_BUILDERS: dict[str, Callable[[TableDecl, dict[str, Getter]], Mapper]] = {
    "person": _person,
    "permit": _permit,
    "permit_status": _permit_status,
    "service": _service,
    "nothing": _nothing,
}
