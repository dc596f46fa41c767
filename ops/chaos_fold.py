"""What the fault runs compare: a fold of the sample agencies' source tables (what the
projection must hold once it has caught up) against the projection's rows, per table, as row
counts and a hash of the sorted rows; and the identity log's inputs decided more than once.

Lost: a row the sources have that the projection lacks (or holds with other values); extra: a
row the projection has that the sources do not; doubled: a source row projected twice, or an
identity input whose decisions the log holds twice. Rows are compared, never printed: keys hold
identity numbers.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa

from ops.samples import siak as siak_db
from ops.samples import sicantik as sicantik_db
from projections.models import CitizenSourceRecord, Permit, PermitTimeline, Service

Row = tuple


@dataclass(frozen=True)
class TableDiff:
    """One projection table against its fold of the sources."""

    expected: int
    projected: int
    expected_hash: str
    projected_hash: str
    lost: int
    extra: int
    doubled: int

    @property
    def equal(self) -> bool:
        return self.expected_hash == self.projected_hash and self.doubled == 0


def digest(rows: Iterable[Row]) -> str:
    """sha256 of the sorted rows (each as its repr), first 16 hex digits."""
    h = hashlib.sha256()
    for r in sorted(repr(r) for r in rows):
        h.update(r.encode())
        h.update(b"\n")
    return h.hexdigest()[:16]


def compare(expected: list[Row], projected: list[Row]) -> TableDiff:
    """Counts, hashes, lost / extra rows and rows projected more than once."""
    want, got = Counter(expected), Counter(projected)
    return TableDiff(
        expected=len(expected),
        projected=len(projected),
        expected_hash=digest(expected),
        projected_hash=digest(projected),
        lost=sum((want - got).values()),
        extra=sum((got - want).values()) - sum(n - 1 for n in got.values() if n > 1),
        doubled=sum(n - 1 for n in got.values() if n > 1),
    )


def source_fold(siak: sa.Engine, sicantik: sa.Engine) -> dict[str, list[Row]]:
    """The rows each projection table must hold, from the source tables alone."""
    out: dict[str, list[Row]] = {}
    with sicantik.connect() as c:
        out["service"] = [
            (f"dpmptsp:{r.id}", r.c_kode, r.durasi)
            for r in c.execute(sa.select(sicantik_db.trperizinan))
        ]
        out["permit"] = [
            (f"dpmptsp:{r.id}",) for r in c.execute(sa.select(sicantik_db.tmpermohonan.c.id))
        ]
        out["permit_timeline"] = [
            (f"dpmptsp:{r.permohonan_id}", r.id)
            for r in c.execute(sa.select(sicantik_db.trstspermohonan_log))
        ]
        records = [
            ("dpmptsp:tmpemohon", str(r.id))
            for r in c.execute(sa.select(sicantik_db.tmpemohon.c.id))
        ]
    with siak.connect() as c:
        for table, column in (
            (siak_db.BIODATA_WNI, "NIK"),
            (siak_db.PINDAH_DATANG, "NO_PINDAH"),
            (siak_db.CAPIL_MATI, "MATI_NO"),
        ):
            name = f"disdukcapil:{table.name.lower()}"
            records += [(name, str(v).strip()) for v in c.scalars(sa.select(table.c[column]))]
    out["citizen_source_record"] = records
    return out


def projected(engine: sa.Engine) -> dict[str, list[Row]]:
    """The same rows as the projection holds them (deleted rows left out)."""
    with engine.connect() as c:
        records = [
            (f"{r.agency}:{r.source_table}".lower(), r.source_record_id)
            for r in c.execute(
                sa.select(CitizenSourceRecord).where(CitizenSourceRecord.deleted.is_(False))
            )
        ]
        return {
            "service": [
                (r.service_ref, r.code, r.sla_days)
                for r in c.execute(sa.select(Service).where(Service.deleted.is_(False)))
            ],
            "permit": [
                (r,)
                for r in c.scalars(sa.select(Permit.permit_id).where(Permit.deleted.is_(False)))
            ],
            "permit_timeline": [
                (r.permit_id, r.status_seq) for r in c.execute(sa.select(PermitTimeline))
            ],
            "citizen_source_record": records,
        }


def fold_diff(siak: sa.Engine, sicantik: sa.Engine, engine: sa.Engine) -> dict[str, TableDiff]:
    """Every compared table: the projection against the fold of the sources."""
    want, got = source_fold(siak, sicantik), projected(engine)
    return {t: compare(want[t], got.get(t, [])) for t in want}


def decided_twice(inputs: Iterable[str]) -> int:
    """Inputs (the identity log's `mpphub-input` header of each decision group, in log order)
    that start more than one group: decided twice."""
    groups: list[str] = []
    for source in inputs:
        if not groups or groups[-1] != source:
            groups.append(source)
    return sum(n - 1 for n in Counter(groups).values())
