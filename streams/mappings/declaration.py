"""What an agency's mapping file declares (pydantic models of `agencies/<agency>.yaml`), and the
checks that need the whole file: a field the event does not have, a code table that is not
defined, a permit status that is not a step of the hub's lifecycle. Every error is a
MappingFileError naming the file, the line and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from domain.permits import LIFECYCLE, OUTCOMES
from domain.services import ServiceStandard

from .lines import Document, MappingFileError

EMITS = ("person", "permit", "permit_status", "service", "nothing")
FIELD_TYPES = (
    "text", "integer", "date", "timestamp", "boolean", "sex", "code", "region", "village", "ref",
    "constant", "standard",
)  # fmt: skip
# What a `standard` field takes from the hub's service standard of the code in its column.
STANDARD_ATTRIBUTES = tuple(
    f for f in ServiceStandard.__dataclass_fields__ if f not in ("code", "agency")
)

# The fields each kind of event takes from a row, and the type a plain column name gets.
EVENT_FIELDS: dict[str, dict[str, str]] = {
    "person": {
        "nik": "text", "name": "text", "sex": "sex", "birth_date": "date", "birth_place": "text",
        "address": "text", "kecamatan_code": "region", "kelurahan_code": "village",
        "religion": "text", "marital_status": "text", "occupation": "text", "kk_number": "text",
        "deceased": "boolean", "death_date": "date", "phone": "text",
    },
    "permit": {
        "service_ref": "ref", "applicant_ref": "ref", "registration_no": "text",
        "received_date": "date", "file_complete_date": "date", "finished_date": "date",
        "outcome": "code", "permit_number": "text",
    },
    "permit_status": {
        "permit_id": "ref", "status": "code", "status_code": "integer", "status_time": "timestamp",
        "status_seq": "integer", "status_note": "text",
    },
    "service": {
        "code": "text", "name": "text", "sla_days": "integer", "unit": "text", "active": "boolean",
    },
    "nothing": {},
}  # fmt: skip
REQUIRED = {"person": ("nik",), "permit_status": ("permit_id", "status")}
# Fields whose values are a closed set of the hub's: a code table onto them must hit the set,
# and a code the table does not know is a dead letter (not a guess).
STATUSES = frozenset(LIFECYCLE)
CLOSED_SETS: dict[str, frozenset[str]] = {
    "status": STATUSES,
    "outcome": OUTCOMES,
    "sex": frozenset({"L", "P"}),
}

_STRICT = ConfigDict(extra="forbid")


class FieldDecl(BaseModel):
    """One canonical field: where its value comes from and how it is read."""

    model_config = _STRICT
    column: str | None = None
    type: Literal[FIELD_TYPES] | None = None  # type: ignore[valid-type]
    codes: str | dict[int | str, Any] | None = None  # a code table's name, or the table
    format: str | None = None  # strptime format of a date/timestamp written as text
    value: Any = None  # type constant
    default: Any = None  # when the column is null
    ref: str | None = None  # "{agency}:{id}": a reference to a row of another table
    id_type: Literal["integer", "text"] = "integer"  # how a ref's id is read
    district: str | None = None  # region/village: the columns of the code parts
    regency: str | None = None
    province: str | None = None
    village: str | None = None
    prefix: str | None = None  # region: province+regency digits when the row has none
    attribute: str | None = None  # standard: which attribute (default: the field's name)


class CheckDecl(BaseModel):
    """A data-quality check of one column: a built-in rule or a plug-in 'module:function'."""

    model_config = _STRICT
    rule: str
    column: str


class TableDecl(BaseModel):
    """How one source table becomes canonical events."""

    model_config = _STRICT
    emits: Literal[EMITS]  # type: ignore[valid-type]
    description: str | None = None
    key: list[str] = []  # the record id's columns when the change has no key record
    id: str = "{agency}:{id}"  # permit / service: the canonical id of a row
    fields: dict[str, str | FieldDecl] = {}
    constants: dict[str, Any] = {}
    checks: list[CheckDecl] = []
    record_id_is_nik: bool = False  # person: mask the record id in findings (personal data)
    on_delete: Literal["default", "ignore"] | None = None
    plugin: str | None = None  # 'module:function' of a RawChange -> list[Canonical]

    @field_validator("fields", mode="before")
    @classmethod
    def _plain(cls, v: Any) -> Any:
        return v if v is not None else {}


class AgencyDecl(BaseModel):
    """A whole mapping file: one agency."""

    model_config = _STRICT
    agency: str
    system: str | None = None  # the application the agency runs
    unit: str | None = None  # the agency's unit (OPD) as the front office names it
    region_prefix: str | None = None  # its regency: 4 digits for short region numbers
    code_tables: dict[str, dict[int | str, Any]] = {}
    tables: dict[str, TableDecl]

    @field_validator("agency")
    @classmethod
    def _agency_name(cls, v: str) -> str:
        if not v or not v.replace("_", "").isalnum() or v != v.lower():
            raise ValueError("must be lower-case letters, digits and _ (it names the topics)")
        return v


def parse(doc: Document) -> AgencyDecl:
    """The declaration of a parsed file, checked whole; MappingFileError on the first problem."""
    if not isinstance(doc.data, dict):
        raise doc.error((), "a mapping file is a YAML mapping with agency: and tables:")
    try:
        decl = AgencyDecl.model_validate(doc.data)
    except ValidationError as e:
        err = e.errors()[0]
        loc = tuple(p for p in err["loc"] if not _union_branch(p))
        raise doc.error(loc, _message(err)) from None
    for problem in semantic_problems(decl):
        raise doc.error(*problem)
    return decl


def _union_branch(part: Any) -> bool:
    return isinstance(part, str) and (part in ("str", "FieldDecl") or "[" in part or "-" in part)


def _message(err: dict[str, Any]) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required"
    return str(err["msg"])


def semantic_problems(decl: AgencyDecl) -> list[tuple[tuple[Any, ...], str]]:
    """(key path, message) of what a schema cannot say: unknown fields, tables, rules, sets."""
    from .checks import CHECKS  # the built-in rules; plug-ins are imported when built

    out: list[tuple[tuple[Any, ...], str]] = []
    for name, values in decl.code_tables.items():
        if not values:
            out.append((("code_tables", name), "an empty code table"))
    for table, t in decl.tables.items():
        at = ("tables", table)
        if t.plugin:
            if ":" not in t.plugin:
                out.append(((*at, "plugin"), "a plug-in is 'module:function'"))
            continue
        allowed = EVENT_FIELDS[t.emits]
        for name in REQUIRED.get(t.emits, ()):
            if name not in t.fields:
                out.append(((*at, "fields"), f"{t.emits} needs the field {name}"))
        for name, f in t.fields.items():
            where = (*at, "fields", name)
            if name not in allowed:
                known = ", ".join(allowed) or "none"
                out.append((where, f"not a field of a {t.emits} event (fields: {known})"))
                continue
            out.extend(_field_problems(decl, name, field_of(f, allowed[name]), where))
        for name in t.constants:
            if name not in allowed:
                out.append(((*at, "constants", name), f"not a field of a {t.emits} event"))
        for i, c in enumerate(t.checks):
            if c.rule not in CHECKS and ":" not in c.rule:
                known = ", ".join(sorted(CHECKS))
                out.append(((*at, "checks", i, "rule"), f"unknown rule (rules: {known})"))
    return out


def field_of(f: str | FieldDecl, default_type: str) -> FieldDecl:
    """A field declaration whole: a plain column name gets the field's usual type."""
    if isinstance(f, str):
        return FieldDecl(column=f, type=default_type if default_type != "ref" else "text")
    if f.type is not None:
        return f
    kind = (
        "constant" if f.value is not None
        else "code" if f.codes is not None
        else "ref" if f.ref is not None
        else default_type if default_type not in ("code", "ref") or f.column is None
        else "text"
    )  # fmt: skip
    return f.model_copy(update={"type": kind})


def _field_problems(
    decl: AgencyDecl, name: str, f: FieldDecl, where: tuple[Any, ...]
) -> list[tuple[tuple[Any, ...], str]]:
    out: list[tuple[tuple[Any, ...], str]] = []
    needs_column = f.type not in ("constant", "region", "village")
    if needs_column and not f.column:
        out.append((where, f"a {f.type} field needs a column"))
    if f.type in ("region", "village") and not f.district:
        out.append((where, f"a {f.type} field needs its district column"))
    if f.type == "village" and not f.village:
        out.append((where, "a village field needs its village column"))
    if f.type in ("region", "village") and not (f.prefix or decl.region_prefix):
        out.append((where, "no prefix here and no region_prefix for the agency"))
    if f.type == "standard" and (f.attribute or name) not in STANDARD_ATTRIBUTES:
        known = ", ".join(STANDARD_ATTRIBUTES)
        out.append((where, f"a service standard has no {f.attribute or name} (has: {known})"))
    if f.type == "ref" and not f.ref:
        out.append((where, "a ref field needs ref: '{agency}:{id}'"))
    if name in CLOSED_SETS and name != "sex" and f.type not in ("code", "constant"):
        out.append((where, f"{name} takes a code table (codes:) onto the hub's values"))
    if f.type == "code" or f.codes is not None:
        table = codes_of(decl, f)
        if table is None:
            known = ", ".join(decl.code_tables) or "none"
            out.append(((*where, "codes"), f"no code table {f.codes!r} (code_tables: {known})"))
        elif kind_of(name) in _VALUE_TYPES:
            want = _VALUE_TYPES[kind_of(name)]
            wrong = sorted({str(v) for v in table.values() if not isinstance(v, want)})
            if wrong:
                out.append(((*where, "codes"), f"{', '.join(wrong)}: not a {kind_of(name)}"))
        elif name in CLOSED_SETS:
            wrong = sorted({str(v) for v in table.values()} - CLOSED_SETS[name])
            if wrong:
                allowed = ", ".join(sorted(CLOSED_SETS[name]))
                out.append(
                    ((*where, "codes"), f"{', '.join(wrong)}: not a {name} (one of {allowed})")
                )
    return out


_VALUE_TYPES: dict[str, type | tuple[type, ...]] = {"boolean": bool, "integer": int}


def kind_of(name: str) -> str:
    """The usual type of a canonical field (any event's)."""
    return next((f[name] for f in EVENT_FIELDS.values() if name in f), "text")


def codes_of(decl: AgencyDecl, f: FieldDecl) -> dict[int | str, Any] | None:
    """The code table a field names (or holds inline); None when it names none that exists."""
    if isinstance(f.codes, dict):
        return f.codes
    if isinstance(f.codes, str):
        return decl.code_tables.get(f.codes)
    return None


def load_declaration(file: str | Path, text: str | None = None) -> tuple[AgencyDecl, Document]:
    """Parse and check one mapping file."""
    from .lines import load

    doc = load(file, text)
    return parse(doc), doc


__all__ = ["AgencyDecl", "FieldDecl", "MappingFileError", "TableDecl", "load_declaration"]
