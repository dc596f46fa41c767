"""`mpphub schemas check`: are the canonical schemas well-formed, and can the registry take them?

Offline it parses every .avsc and checks the conventions that keep evolution BACKWARD_TRANSITIVE
(every field documented, every nullable field `["null", ...]` with default null). With a registry
it also asks, per subject, whether the file is compatible with what is registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import AVRO_DIR, NAMESPACE, CatalogError, load_file
from .registry import (
    DEFAULT_COMPATIBILITY,
    RegistryAuth,
    RegistryClient,
    RegistryError,
    RegistryUnavailableError,
)

OK_STATUSES = ("ok", "new")


@dataclass
class Result:
    """The verdict on one .avsc file: status ok | new | incompatible | invalid | error."""

    name: str
    subject: str | None
    status: str
    messages: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file is fine (a subject not registered yet counts as fine)."""
        return self.status in OK_STATUSES


def lint(schema: Any) -> list[str]:
    """Convention problems of a schema's records: undocumented fields, nullable without null."""
    problems: list[str] = []
    if isinstance(schema, dict) and schema.get("namespace") != NAMESPACE:
        problems.append(f"namespace is {schema.get('namespace')!r}, not {NAMESPACE!r}")
    _lint(schema, "", problems)
    return problems


def _lint(s: Any, path: str, out: list[str]) -> None:
    if isinstance(s, list):
        for branch in s:
            _lint(branch, path, out)
        return
    if not isinstance(s, dict):
        return
    kind = s.get("type")
    if kind in ("record", "error"):
        if not s.get("doc"):
            out.append(f"record {s.get('name')} has no doc")
        for f in s.get("fields", []):
            fpath = f"{path}.{f['name']}" if path else f["name"]
            if not f.get("doc"):
                out.append(f"field '{fpath}' has no doc")
            t = f.get("type")
            if isinstance(t, list) and "null" in t:
                # Only null as the first branch allows default null, and only a default lets a
                # reader that has the field read data written before the field existed.
                if t[0] != "null":
                    out.append(f"field '{fpath}' is nullable but 'null' is not the first branch")
                if "default" not in f or f["default"] is not None:
                    out.append(f"field '{fpath}' is nullable but has no default null")
            _lint(t, fpath, out)
    elif kind == "array":
        _lint(s.get("items"), f"{path}[]", out)
    elif kind == "map":
        _lint(s.get("values"), f"{path}{{}}", out)


def check_file(
    path: Path, registry: RegistryClient | None = None, subject: str | None = None
) -> Result:
    """Check one .avsc: parses, follows the conventions, and (with a registry) is compatible.

    `subject` overrides the catalog's subject (tests use throw-away subjects)."""
    try:
        entry = load_file(path)
    except CatalogError as e:
        return Result(path.stem, None, "invalid", [str(e)])
    problems = lint(entry.schema)
    subject = subject or entry.subject
    if subject is None:
        problems.append(f"no topic for {path.name} in schemas.catalog.TOPICS")
    if problems:
        return Result(entry.name, subject, "invalid", problems)
    if registry is None:
        return Result(entry.name, subject, "ok", ["parses; conventions followed (offline)"])
    try:
        return _check_registered(entry.name, subject, entry.schema, registry)
    except RegistryUnavailableError:
        raise  # not a verdict on this schema: the caller reports it once
    except RegistryError as e:
        return Result(entry.name, subject, "error", [str(e)])


def _check_registered(name: str, subject: str, schema: Any, registry: RegistryClient) -> Result:
    versions = registry.versions(subject)
    if not versions:
        return Result(name, subject, "new", ["subject not registered yet"])
    answer = registry.check_compatibility(subject, schema)
    if not answer.compatible:
        return Result(name, subject, "incompatible", answer.reasons)
    messages = []
    schema_id = registry.lookup(subject, schema)
    if schema_id is not None:
        messages.append(f"registered as schema id {schema_id}")
    else:
        messages.append(f"compatible with versions {versions[0]}..{versions[-1]}; not registered")
    level = registry.get_compatibility(subject)
    if level != DEFAULT_COMPATIBILITY:
        messages.append(
            f"subject compatibility is {level}, the hub expects {DEFAULT_COMPATIBILITY}"
        )
    return Result(name, subject, "ok", messages)


def check_schemas(
    registry: RegistryClient | None = None, directory: Path = AVRO_DIR
) -> list[Result]:
    """Check every .avsc in `directory` (offline when `registry` is None).

    Raises RegistryUnavailableError when the registry cannot be reached at all."""
    return [check_file(p, registry) for p in sorted(directory.glob("*.avsc"))]


_STYLES = {"ok": "green", "new": "cyan", "incompatible": "red", "invalid": "red", "error": "yellow"}


def schemas_check_command(
    registry_url: str | None, offline: bool = False, auth: RegistryAuth | None = None
) -> int:
    """Print the check as a table; exit 0 all fine, 1 a schema is not, 2 registry trouble."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    registry = (
        None
        if offline or not registry_url
        else RegistryClient(registry_url, retries=2, **(auth or RegistryAuth()).options())
    )
    try:
        if registry is not None:
            registry.subjects()  # one probe, so a wrong URL is one line rather than a table
        results = check_schemas(registry)
    except RegistryError as e:
        console.print(f"[red]{e}[/] (use --offline to check the files only)", soft_wrap=True)
        return 2
    finally:
        if registry is not None:
            registry.close()
    table = Table(title=f"Canonical schemas ({AVRO_DIR})")
    table.add_column("schema", no_wrap=True)
    table.add_column("subject", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("detail")
    for r in results:
        style = _STYLES.get(r.status, "")
        table.add_row(
            r.name, r.subject or "-", f"[{style}]{r.status}[/]", "\n".join(r.messages) or "-"
        )
    console.print(table)
    if not results:
        console.print(f"[red]no .avsc files in {AVRO_DIR}[/]")
        return 1
    if registry is None:
        console.print("offline: compatibility with the registry not checked")
    if any(r.status in ("invalid", "incompatible") for r in results):
        return 1
    return 2 if any(r.status == "error" for r in results) else 0
