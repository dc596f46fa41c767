"""`mpphub agency check MAPPING.yaml`: a mapping file run over a sample of real rows of its
source, nothing published. Problems name the file, line and key: a column the source lacks, a
converter that cannot read the column's type, a code table onto values the hub does not have,
a code in the rows that the table does not know. The events are what the worker would emit for
those rows (the same mapping functions, after the same Avro round trip)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.config import ConnectorConfig
from connectors.shapes import EncodeError
from streams.canonical import Canonical, DataQualityFinding
from streams.mappings import AgencyMapping, MappingError, MappingFileError, RawChange, load_file
from streams.mappings.files import mappers
from streams.mappings.schema_check import check_table, uses

from .source import SourceTable, as_decoded, read_source

_COLUMN = re.compile(r"^column (\S+?):")


@dataclass
class CheckReport:
    """What a mapping does with the sample rows."""

    mapping: AgencyMapping
    problems: list[MappingFileError] = field(default_factory=list)
    events: dict[str, list[Canonical]] = field(default_factory=dict)  # table -> its events
    rows: dict[str, int] = field(default_factory=dict)  # table -> sample rows mapped
    unmapped: list[str] = field(default_factory=list)  # source tables the file does not map

    @property
    def ok(self) -> bool:
        return not self.problems

    def findings(self) -> list[DataQualityFinding]:
        return [e for evs in self.events.values() for e in evs if isinstance(e, DataQualityFinding)]


def check_mapping(mapping_file: str | Path, cfg: ConnectorConfig, limit: int = 20) -> CheckReport:
    """Run a mapping file over up to `limit` rows of each table of the connector's source.
    MappingFileError when the file itself is refused; SourceError when the source is unreadable."""
    loaded = load_file(mapping_file)
    report = CheckReport(loaded)
    if loaded.agency != cfg.agency:
        report.problems.append(loaded.doc.error(
            ("agency",), f"the connector captures agency {cfg.agency}, not {loaded.agency}"
        ))  # fmt: skip
        return report
    source = {t.name.lower(): t for t in read_source(cfg, limit)}
    report.unmapped = [t.name for k, t in source.items() if k not in _lower(loaded)]
    fns = mappers(loaded)
    for name, decl in loaded.decl.tables.items():
        table = source.get(name.lower())
        if table is None:
            known = ", ".join(t.name for t in source.values())
            report.problems.append(loaded.doc.error(
                ("tables", name), f"the connector captures no table {name} (tables: {known})"
            ))  # fmt: skip
            continue
        if decl.plugin is None and decl.emits != "nothing":
            schema = table.shape.envelope_schema(table.namespace(loaded.agency))
            problems = check_table(loaded, name, schema)
            if problems:
                report.problems.extend(problems)
                continue
        _run_rows(report, name, table, fns[name])
    return report


def _lower(loaded: AgencyMapping) -> set[str]:
    return {t.lower() for t in loaded.decl.tables}


def _run_rows(report: CheckReport, name: str, table: SourceTable, fn: Any) -> None:
    loaded = report.mapping
    events: list[Canonical] = []
    seen: set[str] = set()
    for n, row in enumerate(table.sample):
        try:
            envelope, key = as_decoded(loaded.agency, table, row, n)
            events.extend(fn(RawChange.from_envelope(envelope, key)))
        except (MappingError, EncodeError) as e:
            problem = located(loaded, name, str(e))
            if str(problem) not in seen:  # one line per distinct problem, not per row
                seen.add(str(problem))
                report.problems.append(problem)
    report.events[name] = events
    report.rows[name] = len(table.sample)


def located(loaded: AgencyMapping, table: str, message: str) -> MappingFileError:
    """A mapping error of a row placed at the key of the field that reads the column it names
    (else at the table)."""
    m = _COLUMN.match(message)
    if m:
        column = m.group(1).lower()
        for path, col, _reads in uses(loaded, table):
            if col.lower() == column and "key" not in path:
                return loaded.doc.error(path, f"in the sample rows: {message}")
    return loaded.doc.error(("tables", table), f"in the sample rows: {message}")


def refuse_unfit_mappings(registry_url: str, auth: Any) -> None:
    """At the worker's start: every installed mapping file against the schemas its sources
    registered; SettingsError naming file, line and key of the first problems. A registry that
    does not answer is no reason to refuse (the worker waits for it anyway)."""
    from schemas.registry import RegistryClient, RegistryUnavailableError
    from streams.mappings import AGENCIES
    from streams.mappings.schema_check import check_all_registered

    from ..settings import SettingsError

    try:
        with RegistryClient(registry_url, **auth.options()) as registry:
            problems = check_all_registered(registry, AGENCIES)
    except RegistryUnavailableError:
        return
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise SettingsError("; ".join(str(p) for p in problems[:3]) + more)
