"""The demo's two agencies onboarded by mapping files only (streams/mappings/agencies/): Dinas
PUPR's building permits (the SIMBG-like sample, ops/samples/simbg.py) and BPJS Kesehatan's
membership export (ops/samples/bpjs.py, a CSV file drop). Each is a connector config the demo
starts like the others; nothing else of the hub knows them.

SIMBG's schema is PostgreSQL-shaped; here it lives in an SQLite file read by polling, as the
demo's other sample databases did, until the demo's throwaway database servers take it too.
"""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from . import bpjs, simbg
from .people import Population

# The simbg polling columns: each table's change time (the status history is insert-only).
SIMBG_TABLES = [
    {"name": "ref_jenis_layanan", "timestamp_column": "updated_at"},
    {"name": "pemilik_bangunan", "timestamp_column": "updated_at"},
    {"name": "permohonan", "timestamp_column": "updated_at"},
    {"name": "riwayat_status", "timestamp_column": "waktu"},
]
NAMES = ("simbg", "bpjs")  # connector names, in start order


def prepare_more_agencies(
    directory: Path, population: Population, say: Callable[[str], None], permits: int = 200
) -> dict[str, dict]:
    """Create the SIMBG sample database and drop a BPJS export, both afresh; connector name ->
    its config without kafka/registry (the demo adds its stack's)."""
    db = (directory / "simbg.db").resolve()
    db.unlink(missing_ok=True)
    say(f"creating the sample SIMBG database ({permits} building permits) ...")
    engine = sa.create_engine(f"sqlite:///{db}")
    simbg.create_simbg(engine, population, permits, seed=7)
    engine.dispose()
    drop = (directory / "bpjs-drop").resolve()
    shutil.rmtree(drop, ignore_errors=True)
    rows = bpjs.member_rows(population, seed=7)
    say(f"dropping a BPJS membership export ({len(rows)} members) ...")
    bpjs.write_export(drop, rows, dt.datetime.now())
    polling = {"mode": "polling", "url": f"sqlite:///{db}", "poll_interval_s": 0.5,
               "safety_delay_s": 1.0, "diff_interval_s": 30.0}  # fmt: skip
    return {
        "simbg": {"agency": simbg.AGENCY, "name": "simbg", "source": polling,
                  "tables": SIMBG_TABLES},
        "bpjs": {"agency": bpjs.AGENCY, "name": "bpjs",
                 "source": {"mode": "file", "directory": str(drop), "poll_interval_s": 1.0},
                 "tables": [{"name": bpjs.TABLE, "key": bpjs.KEY}]},
    }  # fmt: skip
