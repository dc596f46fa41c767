"""The audit database: append reads to the chain (one transaction per answer, retried when
another process took the same seq), read the head, walk the entries, find a person's reads."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict

from sqlalchemy import Engine, or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from domain.tokens import Tokens

from ..store import make_engine
from .chain import GENESIS, entry_hash
from .entries import AuditBase, AuditEntry, Read

APPEND_ATTEMPTS = 5
WALK_CHUNK = 1000


class AuditError(RuntimeError):
    """The audit could not be written: the read it was for must not be answered."""


class AuditLog:
    """The chained audit entries in one database (its own, not the projections')."""

    def __init__(self, engine: Engine, tokens: Tokens):
        self.engine = engine
        self.tokens = tokens
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        self._lock = threading.Lock()  # one appender per process; other processes: the seq key

    def close(self) -> None:
        """Release the database connections."""
        self.engine.dispose()

    def append(self, reads: Sequence[Read], now: dt.datetime | None = None) -> list[AuditEntry]:
        """Chain `reads` after the head, in one transaction; AuditError when that fails."""
        if not reads:
            return []
        at = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).replace(tzinfo=None)
        last: Exception | None = None
        with self._lock:
            for _ in range(APPEND_ATTEMPTS):
                try:
                    return self._append_once(reads, at)
                except (IntegrityError, OperationalError) as e:  # a race for the seq, a lock
                    last = e
        raise AuditError(f"the audit could not be written ({type(last).__name__})")

    def _append_once(self, reads: Sequence[Read], at: dt.datetime) -> list[AuditEntry]:
        with self._sessions() as s, s.begin():
            seq, prev = _head(s)
            out = []
            for r in reads:
                seq += 1
                e = AuditEntry(seq=seq, at=at, prev_hash=prev, hash="", **asdict(r))
                e.hash = prev = entry_hash(self.tokens, e, prev)
                s.add(e)
                out.append(e)
        return out

    def head(self) -> tuple[int, str]:
        """(seq, hash) of the last entry; (0, GENESIS) for an empty audit."""
        with self._sessions() as s:
            return _head(s)

    def entries(self, after: int = 0) -> Iterator[AuditEntry]:
        """Every entry after seq `after`, in seq order (read in chunks)."""
        while True:
            with self._sessions() as s:
                chunk = list(
                    s.scalars(
                        select(AuditEntry)
                        .where(AuditEntry.seq > after)
                        .order_by(AuditEntry.seq)
                        .limit(WALK_CHUNK)
                    )
                )
            yield from chunk
            if len(chunk) < WALK_CHUNK:
                return
            after = chunk[-1].seq

    def get(self, seq: int) -> AuditEntry | None:
        """The entry numbered `seq`."""
        with self._sessions() as s:
            return s.get(AuditEntry, seq)

    def reads_of(
        self, *, nik: str | None = None, person_ids: Iterable[str] = ()
    ) -> list[AuditEntry]:
        """Every entry about a person, by NIK (matched by its token) or person ids, oldest
        first."""
        wanted = []
        if nik:
            wanted.append(AuditEntry.person_token == self.tokens.nik(nik))
        ids = [p for p in person_ids if p]
        if ids:
            wanted.append(AuditEntry.person_id.in_(ids))
        if not wanted:
            return []
        with self._sessions() as s:
            return list(s.scalars(select(AuditEntry).where(or_(*wanted)).order_by(AuditEntry.seq)))


def _head(s: Session) -> tuple[int, str]:
    last = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    return (last.seq, last.hash) if last is not None else (0, GENESIS)


def open_audit(url: str, tokens: Tokens, *, create: bool = True) -> AuditLog:
    """The AuditLog in the database at `url` (its table created unless told not to)."""
    engine = make_engine(url)
    if create:
        AuditBase.metadata.create_all(engine)
    return AuditLog(engine, tokens)
