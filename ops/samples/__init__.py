"""Sample agency databases for the demo and the tests: a SIAK-like civil registry and a
SiCantik-like permit office over one synthetic Muna Barat population, and a Simulator that keeps
changing them the way agency staff do.

    population = create_siak(siak_engine, n_people=10_000, seed=7)
    create_sicantik(sicantik_engine, population, n_permits=2_000, seed=7)
    sim = Simulator(siak_engine, sicantik_engine, population, seed=7)
    change = sim.step()   # e.g. SimChange(kind="move", keys={"DATA_KELUARGA": (...)}, ...)
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

import sqlalchemy as sa

from . import siak, sicantik
from .people import Names, Population, SimChange, generate_population
from .siak import create_siak
from .sicantik import create_sicantik

__all__ = [
    "Population",
    "SimChange",
    "Simulator",
    "create_sicantik",
    "create_siak",
    "generate_population",
]


class Simulator:
    """Makes one realistic change at a time in the sample databases, through plain SQL, each in
    its own transaction and stamped with the clock's local time (whole seconds)."""

    # Relative frequency of each change in step(): permit work dominates a day at the MPP.
    WEIGHTS = {
        "birth": 2,
        "correction": 4,
        "move": 1,
        "death": 1,
        "new_application": 3,
        "advance_application": 8,
    }
    _SIAK_KINDS = ("birth", "correction", "move", "death")

    def __init__(
        self,
        siak_engine: sa.Engine | None = None,
        sicantik_engine: sa.Engine | None = None,
        population: Population | None = None,
        *,
        seed: int = 0,
        clock: Callable[[], dt.datetime] = dt.datetime.now,
        bad_nik_rate: float = 0.03,
    ):
        self.siak_engine = siak_engine
        self.sicantik_engine = sicantik_engine
        self.rng = random.Random(seed)
        self.clock = clock
        self.bad_nik_rate = bad_nik_rate
        self.names = Names(seed)
        self.candidates = population.adults(21) if population is not None else []

    def now(self) -> dt.datetime:
        """The clock's time without microseconds, as agency applications store it."""
        return self.clock().replace(microsecond=0)

    def _siak(self, change: Callable[..., SimChange | None]) -> SimChange | None:
        if self.siak_engine is None:
            raise RuntimeError("this Simulator has no SIAK engine")
        with self.siak_engine.begin() as conn:
            return change(conn, self.rng, self.now(), self.names)

    def _sicantik(self) -> sa.Engine:
        if self.sicantik_engine is None:
            raise RuntimeError("this Simulator has no SiCantik engine")
        return self.sicantik_engine

    def birth(self) -> SimChange | None:
        """A baby is registered into a family card (None if no family can have one)."""
        return self._siak(siak.birth)

    def correction(self) -> SimChange | None:
        """One field of one resident's biodata is corrected."""
        return self._siak(siak.correction)

    def move(self) -> SimChange | None:
        """A family moves to another district and gets a new KK."""
        return self._siak(siak.move)

    def death(self) -> SimChange | None:
        """A resident's death is registered (a CAPIL_MATI row; biodata deleted, family updated)."""
        return self._siak(siak.death)

    def new_application(self) -> SimChange | None:
        """A permit application is received at the counter."""
        with self._sicantik().begin() as conn:
            return sicantik.new_application(
                conn, self.rng, self.now(), self.candidates, self.bad_nik_rate
            )

    def advance_application(self) -> SimChange | None:
        """An open permit application moves one step (None if none is open)."""
        with self._sicantik().begin() as conn:
            return sicantik.advance_application(conn, self.rng, self.now())

    def kinds(self) -> list[str]:
        """The changes this simulator can make with the engines it was given."""
        return [
            k
            for k in self.WEIGHTS
            if (self.siak_engine if k in self._SIAK_KINDS else self.sicantik_engine) is not None
        ]

    def step(self, rng: random.Random | None = None) -> SimChange | None:
        """Make one change, picked by WEIGHTS with `rng` (default: the simulator's own); if the
        pick is impossible right now (e.g. no open application) another kind is tried."""
        rng = rng or self.rng
        kinds = self.kinds()
        while kinds:
            kind = rng.choices(kinds, [self.WEIGHTS[k] for k in kinds])[0]
            change = getattr(self, kind)()
            if change is not None:
                return change
            kinds.remove(kind)
        return None
