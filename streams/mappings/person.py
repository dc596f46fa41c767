"""The generic person mapping: a table's column -> PersonFact field table (a PersonSpec) turned
into PersonFacts, plus the data-quality findings of the record. Which person a record is about
is the identity resolver's to decide (streams/identity.py), not the mapping's."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.identity import NikStatus, check_person_nik
from domain.nik import mask_nik

from ..canonical import DELETE, ERROR, UPSERT, WARNING, Canonical, DataQualityFinding, PersonFact
from .change import RawChange
from .errors import MappingError
from .values import Getter, Row, column, parse_recorded_sex


@dataclass(frozen=True)
class Issue:
    """A data-quality problem a check found in a row (rule, column, words without the value)."""

    rule_code: str
    field: str
    detail: str
    severity: str = WARNING


Check = Callable[[Row], Sequence[Issue]]

# NIK statuses that make the NIK unusable as such; the others are disagreements between two
# recorded values (either may be the wrong one).
_NIK_ERRORS = {NikStatus.MALFORMED, NikStatus.UNKNOWN_REGION, NikStatus.BAD_DATE}


@dataclass(frozen=True)
class PersonSpec:
    """How one agency table describes people.

    `fields` maps PersonFact fields to getters; `constants` are fields every full fact of the
    table states (e.g. deceased=False for the civil registry's living residents);
    `record_id_is_nik` masks the record id in findings (it is personal data)."""

    nik: str
    fields: Mapping[str, Getter]
    key_columns: tuple[str, ...] = ()
    constants: Mapping[str, Any] = field(default_factory=dict)
    checks: tuple[Check, ...] = ()
    record_id_is_nik: bool = False


def person_facts(change: RawChange, spec: PersonSpec) -> list[Canonical]:
    """PersonFact (UPSERT, or DELETE) of a change, plus its findings (upserts only)."""
    row = change.row
    record_id = change.record_id(spec.key_columns)
    if change.is_delete:
        # A delete may carry only the key: the NIK check from whatever it carries, nothing else.
        wanted = {k: spec.fields[k] for k in ("birth_date", "sex") if k in spec.fields}
        values = _lenient(row, wanted)
    else:
        values = {name: getter(row) for name, getter in spec.fields.items()}
    identity = check_person_nik(
        column(row, spec.nik) if column(row, spec.nik) is not None else _key_nik(change, spec),
        birth_date=values.get("birth_date"),
        sex=parse_recorded_sex(values.get("sex")),
    )
    common = {
        "nik_status": identity.status.value,
        "agency": change.agency,
        "source_table": change.table,
        "source_record_id": record_id,
        "source_position": change.position,
        "source_ts": change.source_ts,
        "nik": identity.nik,
    }
    if change.is_delete:
        return [PersonFact(op=DELETE, **common)]
    record_key = mask_nik(record_id) if spec.record_id_is_nik else record_id
    issues: list[Issue] = []
    if not identity.valid:
        severity = ERROR if identity.status in _NIK_ERRORS else WARNING
        issues.append(Issue(identity.rule_code, spec.nik, identity.detail, severity))
    for check in spec.checks:
        issues.extend(check(row))
    # The fact states all of this version's findings (none: the record is clean now), so the
    # findings projection can clear what a correction fixed; the findings topic keeps the log.
    quality = {
        "record_ref": record_key,
        "issues": [dataclasses.asdict(i) for i in issues],
        "checked_at": change.finding_ts,
    }
    out: list[Canonical] = [
        PersonFact(op=UPSERT, **common, **spec.constants, **values, quality=quality)
    ]
    out.extend(
        DataQualityFinding(
            agency=change.agency,
            table=change.table,
            record_key=record_key,
            rule_code=i.rule_code,
            detail=i.detail,
            source_position=change.position,
            ts=change.finding_ts,
            field=i.field,
            severity=i.severity,
        )
        for i in issues
    )
    return out


def _key_nik(change: RawChange, spec: PersonSpec) -> Any:
    """The NIK from the key record when the row lacks it (a NIK-keyed table's key-only delete)."""
    if spec.record_id_is_nik and change.key:
        return column(change.key, spec.nik)
    return None


def _lenient(row: Row, getters: Mapping[str, Getter]) -> dict[str, Any]:
    out = {}
    for name, getter in getters.items():
        try:
            out[name] = getter(row)
        except MappingError:
            out[name] = None  # a bad value in a deleted row must not stop the delete
    return out
