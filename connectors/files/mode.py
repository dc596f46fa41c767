"""File drop capture: agencies without a database (BPJS Kesehatan `peserta_jkn`, Polres `skck`)
drop periodic *full* exports of a table as CSV/XLSX into `source.directory`; each export is
diffed against the previous one as published (a new key `c`, `r` in the table's first export; a
changed row `u`; a key gone `d`). How an export is read is connectors/files/exports.py's.

Files: `tables[].file` (a glob) or `<table>*.csv` / `<table>*.xlsx` (the longest table name wins),
taken in order of name then mtime: name them so they sort by export time; an older one is
skipped with a warning. A file is complete once `<file>.done` exists beside it, or once its size
and mtime hold across two polls; one that cannot be read as an export is refused in the log and
skipped until it changes. Position: `<file seq, 9 digits>:<file name>:<row, 9 digits>`.
The offset records the last export fully published per table: a restart skips done files, and a
file half-published when killed is processed again with the same positions. Done files move to
`source.archive_directory` when it is set.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import logging
import shutil
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
)
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas.names import avro_name

from .. import metrics
from ..changes import Batch
from ..config import ConfigError
from ..mode import ModeContext
from ..shapes import TableShape
from ..topic_state import published_rows
from .exports import (
    CSV_SUFFIXES,
    MARKER,
    XLSX_SUFFIXES,
    Export,
    FileRejected,
    diff_export,
    merge_columns,
    read_csv,
    read_xlsx,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DroppedFile:
    """A file in the drop directory as listed (size and mtime tell whether it still grows)."""

    path: Path
    size: int
    mtime_ns: int

    @property
    def order(self) -> tuple[str, int]:
        return _order(self.path.name, self.mtime_ns)


class FileDropMode:
    """CSV/XLSX full exports in a directory, each diffed against the previous one."""

    name = "file"
    sql_snapshot = False

    def __init__(self, ctx: ModeContext):
        self.ctx = ctx
        self.cfg = ctx.config
        for t in self.cfg.tables:
            if not t.key:
                raise ConfigError(
                    f"tables.{t.name}.key: required for mode 'file' (the column(s) that "
                    "identify a row in the export, e.g. [NIK])"
                )
        assert self.cfg.source.directory is not None  # the config refuses file mode without
        self.directory = Path(self.cfg.source.directory)
        self.archive = self.cfg.source.archive_directory
        self.baseline: dict[str, dict[tuple, dict[str, Any]]] = {}
        self._last_seen: dict[str, tuple[int, int]] = {}  # name -> (size, mtime_ns) last poll
        self._refused: dict[str, tuple[int, int]] = {}  # name -> (size, mtime_ns) refused
        self._warned: set[tuple[str, str]] = set()

    async def start(self) -> None:
        if not self.directory.is_dir():
            raise ConfigError(f"source.directory: {self.directory} is not a directory")
        if self.archive is not None:
            try:
                Path(self.archive).mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise ConfigError(
                    f"source.archive_directory: cannot create {self.archive}: {e.strerror}"
                ) from None

    async def snapshot_marker(self) -> dict[str, Any]:
        return {"position": None, "seq": 0, "files": {}, "columns": {}}

    async def stop(self) -> None:
        pass

    # --- files ---------------------------------------------------------------------------------
    def _patterns(self, table: str) -> list[str]:
        tc = self.cfg.table(table)
        if tc.file:
            return [tc.file.lower()]
        return [f"{table.lower()}*{s}" for s in (".csv", ".xlsx")]

    def _owner(self, name: str) -> str | None:
        """The table a file belongs to: an explicit pattern first, else the longest name."""
        low = name.lower()
        if low.endswith(MARKER) or low.startswith((".", "~$")):
            return None
        owners = [
            t.name
            for t in self.cfg.tables
            if any(fnmatch.fnmatchcase(low, p) for p in self._patterns(t.name))
        ]
        if not owners:
            return None
        return max(owners, key=lambda t: (self.cfg.table(t).file is not None, len(t)))

    def _listing(self) -> tuple[dict[str, list[DroppedFile]], set[str]]:
        files: dict[str, list[DroppedFile]] = {t.name: [] for t in self.cfg.tables}
        markers: set[str] = set()
        for p in self.directory.iterdir():
            if p.name.lower().endswith(MARKER):
                markers.add(p.name[: -len(MARKER)].lower())
                continue
            owner = self._owner(p.name)
            if owner is None:
                continue
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            if p.is_file():
                files[owner].append(DroppedFile(p, st.st_size, st.st_mtime_ns))
        for fs in files.values():
            fs.sort(key=lambda f: f.order)
        return files, markers

    def _todo(self, table: str, offset: dict[str, Any]) -> list[DroppedFile]:
        """The table's new files that are complete, in order (stops at one still growing)."""
        files, markers = self._listing()
        done = offset["files"].get(table)
        out: list[DroppedFile] = []
        seen_now: dict[str, tuple[int, int]] = {}
        blocked = False
        for f in files[table]:
            name = f.path.name
            if done is not None and f.order <= _order(done["name"], done["mtime_ns"]):
                if name == done["name"] and f.size == done["size"]:
                    self._archive_file(f)  # done before a restart that came before archiving
                elif (table, name) not in self._warned:
                    self._warned.add((table, name))
                    log.warning(
                        "file drop %s: %s is older than %s: skipped", table, name, done["name"]
                    )
                continue
            if self._refused.get(name) == (f.size, f.mtime_ns):
                continue
            stat = (f.size, f.mtime_ns)
            complete = name.lower() in markers or (f.size > 0 and self._last_seen.get(name) == stat)
            seen_now[name] = stat
            # Order matters: nothing after a file that is still arriving.
            blocked = blocked or not complete
            if not blocked:
                out.append(f)
        self._last_seen = {
            **{k: v for k, v in self._last_seen.items() if self._owner(k) != table},
            **seen_now,
        }
        return out

    def _archive_file(self, f: DroppedFile) -> None:
        if self.archive is None:
            return
        target = Path(self.archive) / f.path.name
        if target.exists():
            target = target.with_name(f"{f.path.stem}-{f.mtime_ns}{f.path.suffix}")
        try:
            shutil.move(str(f.path), str(target))
            marker = f.path.with_name(f.path.name + MARKER)
            if marker.exists():
                shutil.move(str(marker), str(target.with_name(target.name + MARKER)))
        except OSError as e:
            log.error("file drop: cannot archive %s to %s: %s", f.path.name, self.archive, e)

    def _parse(self, table: str, f: DroppedFile, data: bytes, known: list[str]) -> Export:
        key = list(self.cfg.table(table).key or [])
        suffix = f.path.suffix.lower()
        if suffix in XLSX_SUFFIXES:
            return read_xlsx(data, key, known, table)
        if suffix in CSV_SUFFIXES:
            return read_csv(data, key, known)
        raise FileRejected("not a CSV or XLSX file (save legacy .xls as .xlsx)")

    # --- the stream ----------------------------------------------------------------------------
    def stream(self, resume: dict[str, Any] | None) -> AsyncIterator[Batch]:
        """Poll the directory; every complete new export becomes batches of its diff."""
        return self._batches(resume)

    async def _batches(self, resume: dict[str, Any] | None) -> AsyncIterator[Batch]:
        offset = _copy(resume or await self.snapshot_marker())
        for k, v in (("seq", 0), ("files", {}), ("columns", {})):
            offset.setdefault(k, v)
        tables = [t.name for t in self.cfg.tables]
        current = offset.get("current")
        if current and current.get("table") in tables:  # the file a kill interrupted goes first
            tables.remove(current["table"])
            tables.insert(0, current["table"])
        for t in tables:
            if offset["columns"].get(t):
                await self._register(t, offset["columns"][t])
        last_retry = time.monotonic()
        while True:
            worked = False
            retry = time.monotonic() - last_retry >= self.cfg.source.diff_interval_s
            for table in tables:
                if table in self.ctx.paused and not retry:
                    continue
                for f in await asyncio.to_thread(self._todo, table, offset):
                    async for batch in self._process(table, f, offset):
                        worked = True
                        yield batch
                    if table in self.ctx.paused:
                        break
            if retry:
                last_retry = time.monotonic()
            if not worked:
                await asyncio.sleep(self.cfg.source.poll_interval_s)

    async def _register(self, table: str, columns: list[str]) -> bool:
        shape = TableShape.text_columns(table, columns, list(self.cfg.table(table).key or []))
        if self.ctx.shapes.get(table) == shape and table not in self.ctx.paused:
            return True
        return await self.ctx.schema_changed(table, shape)

    async def _process(
        self, table: str, f: DroppedFile, offset: dict[str, Any]
    ) -> AsyncIterator[Batch]:
        name = f.path.name
        try:
            data = await asyncio.to_thread(f.path.read_bytes)
        except FileNotFoundError:
            return
        sha = hashlib.sha256(data).hexdigest()
        done = offset["files"].get(table)
        record = {"name": name, "mtime_ns": f.mtime_ns, "size": f.size, "sha256": sha}
        if done is not None and done["name"] == name and done["sha256"] == sha:
            offset["files"][table] = record  # touched, not changed: not a new export
            yield Batch([], offset=_copy(offset), on_committed=[self._archiver(f)])
            return
        known = list(offset["columns"].get(table, []))
        try:
            export = await asyncio.to_thread(self._parse, table, f, data, known)
        except FileRejected as e:
            log.error("file drop %s: %s refused: %s", table, name, e)
            metrics.ERRORS.labels(self.cfg.connector_name, "source").inc()
            self._refused[name] = (f.size, f.mtime_ns)
            return
        if export.encoding == "cp1252":
            log.warning("file drop %s: %s is not UTF-8: read as cp1252", table, name)
        if export.ignored_cells:
            log.warning(
                "file drop %s: %s: %d value(s) under an empty header ignored",
                table,
                name,
                export.ignored_cells,
            )
        columns = merge_columns(known, export.columns)
        if not await self._register(table, columns):
            return  # paused: the file is taken again once the registry accepts the shape
        shape = self.ctx.shapes[table]
        baseline = await self._baseline(table, shape)
        current = offset.get("current") or {}
        if current.get("table") == table and current.get("sha256") == sha:
            seq = current["seq"]  # the same positions as before the restart
        else:
            seq = offset["seq"] + 1
        prefix = f"{seq:09d}:{name}"
        changes, new_base = diff_export(
            shape,
            baseline,
            export,
            prefix,
            f.mtime_ns // 1_000_000,
            snapshot=table not in offset["files"],
        )
        offset["columns"][table] = columns
        offset["current"] = {"table": table, "name": name, "sha256": sha, "seq": seq}
        size = self.cfg.batch_size
        chunks = [changes[i : i + size] for i in range(0, len(changes), size)] or [[]]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            offset["position"] = chunk[-1].position if chunk else f"{prefix}:end"
            callbacks = []
            if last:
                offset["files"][table] = record
                offset["seq"] = seq
                offset.pop("current", None)
                self.baseline[table] = new_base
                callbacks.append(self._archiver(f))
            yield Batch(chunk, offset=_copy(offset), on_committed=callbacks)
        log.info("file drop %s: %s published (%d change(s))", table, name, len(changes))

    def _archiver(self, f: DroppedFile) -> Callable[[], Awaitable[None]]:
        async def archive() -> None:
            await asyncio.to_thread(self._archive_file, f)

        return archive

    async def _baseline(self, table: str, shape: TableShape) -> dict[tuple, dict[str, Any]]:
        """What was published for the table: read from its topic once, then kept in memory."""
        if table not in self.baseline:
            rows = await published_rows(self.cfg, self.cfg.topic(table), list(shape.key))
            by_field = {avro_name(c): c for c in shape.columns}
            self.baseline[table] = {
                k: {by_field[f]: v for f, v in after.items() if f in by_field}
                for k, after in rows.items()
            }
        return self.baseline[table]


def _order(name: str, mtime_ns: int) -> tuple[str, int]:
    return name.lower(), mtime_ns


def _copy(offset: dict[str, Any]) -> dict[str, Any]:
    out = dict(offset)
    out["files"] = {t: dict(v) for t, v in offset.get("files", {}).items()}
    out["columns"] = {t: list(v) for t, v in offset.get("columns", {}).items()}
    if isinstance(offset.get("current"), dict):
        out["current"] = dict(offset["current"])
    return out
