"""The agencies' mapping files: one YAML file per agency (`<agency>.yaml`) in a directory, the
hub's own in streams/mappings/agencies/ (package data). Loading checks each file whole and
installs its tables in the registry; a wrong file is refused naming its file, line and key."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .build import table_mapper
from .declaration import AgencyDecl, load_declaration
from .lines import Document, MappingFileError
from .registry import register, unregister_agency

AGENCIES_DIR = Path(__file__).with_name("agencies")


@dataclass(frozen=True)
class AgencyMapping:
    """One agency's mapping file, parsed and checked."""

    decl: AgencyDecl
    doc: Document

    @property
    def agency(self) -> str:
        return self.decl.agency

    @property
    def file(self) -> Path:
        return self.doc.file

    def line(self, *path: object) -> int | None:
        """The line of a key path in the file."""
        return self.doc.line(path)


# agency -> its installed mapping file
AGENCIES: dict[str, AgencyMapping] = {}


def load_file(file: str | Path, text: str | None = None) -> AgencyMapping:
    """Parse and check one mapping file and build its functions (a plug-in that cannot be
    imported is refused here, naming its key); MappingFileError on any problem."""
    decl, doc = load_declaration(file, text)
    loaded = AgencyMapping(decl, doc)
    mappers(loaded)  # build once: what cannot be built is refused at load
    return loaded


def mappers(loaded: AgencyMapping) -> dict[str, object]:
    """table name -> mapping function of a loaded file."""
    out = {}
    for table, t in loaded.decl.tables.items():
        try:
            out[table] = table_mapper(loaded.decl, t)
        except ValueError as e:
            key = ("tables", table, "plugin") if t.plugin else ("tables", table)
            raise loaded.doc.error(key, str(e)) from None
    return out


def load_directory(directory: str | Path) -> list[AgencyMapping]:
    """Every `*.yaml` mapping file of a directory, sorted by name; two files of one agency are
    refused."""
    directory = Path(directory)
    if not directory.is_dir():
        raise MappingFileError(directory, None, "", "no such directory of mapping files")
    out: dict[str, AgencyMapping] = {}
    for file in sorted(directory.glob("*.yaml")):
        loaded = load_file(file)
        if loaded.agency in out:
            other = out[loaded.agency].file.name
            raise loaded.doc.error(("agency",), f"agency {loaded.agency} is also in {other}")
        out[loaded.agency] = loaded
    return list(out.values())


def install(loaded: AgencyMapping) -> None:
    """Make a loaded file the mapping of its agency (replacing what it had)."""
    unregister_agency(loaded.agency)
    for table, fn in mappers(loaded).items():
        register(loaded.agency, table, fn)  # type: ignore[arg-type]
    AGENCIES[loaded.agency] = loaded


def install_directory(directory: str | Path) -> list[str]:
    """Install every mapping file of a directory; the agencies installed."""
    loaded = load_directory(directory)
    for one in loaded:
        install(one)
    return [one.agency for one in loaded]


def raw_topics(topic_prefix: str = "mpp") -> tuple[str, ...]:
    """The change topics of every table of every installed agency, sorted."""
    return tuple(
        sorted(
            f"{topic_prefix}.{a}.{t.lower()}" for a, m in AGENCIES.items() for t in m.decl.tables
        )
    )
