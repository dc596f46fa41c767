"""The demo's sample agency databases made again in throwaway SQLite files (create_siak and
create_sicantik are deterministic for a seed): the NIKs and KK numbers a demo of that size
holds, without reading its databases or having the demo print any."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import sqlalchemy as sa

SEED = 7  # ops/demo.py prepare_databases


@functools.cache
def sample_numbers(people: int, permits: int) -> tuple[tuple[str, ...], frozenset[str]]:
    """(the residents' NIKs in order, every 16-digit number in any column of either database:
    NIK, NO_KK, NIK_KK, no_identitas)."""
    from ops.samples import create_siak, create_sicantik

    with tempfile.TemporaryDirectory() as d:
        siak = sa.create_engine(f"sqlite:///{Path(d) / 'siak.db'}")
        sicantik = sa.create_engine(f"sqlite:///{Path(d) / 'sicantik.db'}")
        population = create_siak(siak, n_people=people, seed=SEED)
        create_sicantik(sicantik, population, n_permits=permits, seed=SEED)
        numbers: set[str] = set()
        for engine in (siak, sicantik):
            with engine.connect() as conn:
                for table in sa.inspect(engine).get_table_names():
                    for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')):
                        numbers |= {
                            v for v in row if isinstance(v, str) and len(v) == 16 and v.isdigit()
                        }
            engine.dispose()
    return tuple(p.nik for p in population.people), frozenset(numbers)
