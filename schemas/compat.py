"""Avro schema compatibility, checked locally (pure, no I/O).

The registry is the authority on compatibility; this module exists to say *why* a schema is
refused when the registry does not (Apicurio's ccompat API answers `{"is_compatible": false}` with
no detail, and its 409 text names JSON pointers rather than fields). The rules are those of Avro
schema resolution: a reader can read a writer's data when every reader field is in the writer or
has a default, and every writer type resolves to the reader's (with the spec's promotions).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fastavro

# Writer type -> reader types it is promoted to (Avro 1.11 spec, "Schema Resolution").
_PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}
_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "error", "enum", "fixed"})

# The registry compatibility levels and the directions each one checks.
LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)


@dataclass(frozen=True)
class Issue:
    """One reason why a reader cannot read a writer's data, at a field path like `source.ts_ms`."""

    path: str
    kind: str  # missing_default | type | enum_symbol | fixed_size | name
    reader: str = ""
    writer: str = ""

    def backward(self) -> str:
        """Phrased for a new schema (reader) reading data written with an old one (writer)."""
        where = f"field '{self.path}'" if self.path else "the schema"
        if self.kind == "missing_default":
            return f"{where} added without a default"
        if self.kind == "enum_symbol":
            return f"{where}: enum symbol {self.writer} removed (and the enum has no default)"
        if self.kind == "fixed_size":
            return f"{where}: fixed size changed from {self.writer} to {self.reader}"
        if self.kind == "name":
            return f"{where}: type renamed from {self.writer} to {self.reader} without an alias"
        return f"{where}: type changed from {self.writer} to {self.reader}"

    def forward(self) -> str:
        """Phrased for an old schema (reader) reading data written with a new one (writer)."""
        where = f"field '{self.path}'" if self.path else "the schema"
        if self.kind == "missing_default":
            return f"{where} removed, and the old schema gives it no default"
        if self.kind == "enum_symbol":
            return f"{where}: enum symbol {self.writer} added (and the old enum has no default)"
        if self.kind == "fixed_size":
            return f"{where}: fixed size changed from {self.reader} to {self.writer}"
        if self.kind == "name":
            return f"{where}: type renamed from {self.reader} to {self.writer} without an alias"
        return f"{where}: type changed from {self.reader} to {self.writer}"


class _Schema:
    """A parsed schema and its named types, so that references by name can be followed."""

    def __init__(self, schema: Any):
        self.named: dict[str, Any] = {}
        self.root = fastavro.parse_schema(
            plain(schema), named_schemas=self.named, _write_hint=False
        )

    def resolve(self, s: Any) -> Any:
        if isinstance(s, str) and s not in _PRIMITIVES:
            return self.named.get(s, s)
        return s


def plain(schema: Any) -> Any:
    """The schema without the private keys fastavro adds when parsing (`__fastavro_parsed`...)."""
    if isinstance(schema, dict):
        return {k: plain(v) for k, v in schema.items() if not k.startswith("__")}
    if isinstance(schema, list):
        return [plain(v) for v in schema]
    return schema


def _type_name(s: Any) -> str:
    if isinstance(s, str):
        return s
    if isinstance(s, list):
        return "union[" + ",".join(_type_name(b) for b in s) + "]"
    t = s.get("type")
    if t in _NAMED:
        return str(s.get("name"))
    if t == "array":
        return f"array<{_type_name(s['items'])}>"
    if t == "map":
        return f"map<{_type_name(s['values'])}>"
    logical = s.get("logicalType")
    return f"{t}({logical})" if logical else str(t)


def _kind(s: Any) -> str:
    if isinstance(s, str):
        return s
    if isinstance(s, list):
        return "union"
    t = s["type"]
    return "record" if t == "error" else t


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _names_match(r: dict, w: dict) -> bool:
    # Unqualified names, as the spec and the Java implementation compare them; aliases count.
    aliases = {_short(a) for a in r.get("aliases", ())}
    return _short(r["name"]) == _short(w["name"]) or _short(w["name"]) in aliases


def issues(reader: Any, writer: Any) -> list[Issue]:
    """Why data written with `writer` cannot be read with `reader`; empty when it can."""
    r, w = _Schema(reader), _Schema(writer)
    out: list[Issue] = []
    _check(r, w, r.root, w.root, "", out, set())
    return out


def _same_type(r: _Schema, w: _Schema, rs: Any, ws: Any) -> bool:
    rs, ws = r.resolve(rs), w.resolve(ws)
    kind = _kind(rs)
    if kind != _kind(ws):
        return False
    return kind not in ("record", "enum", "fixed") or _names_match(rs, ws)


def _matches(r: _Schema, w: _Schema, rs: Any, ws: Any, seen: set) -> bool:
    out: list[Issue] = []
    _check(r, w, rs, ws, "", out, seen)
    return not out


def _check(
    r: _Schema, w: _Schema, rs: Any, ws: Any, path: str, out: list[Issue], seen: set
) -> None:
    rs, ws = r.resolve(rs), w.resolve(ws)
    rk, wk = _kind(rs), _kind(ws)
    if wk == "union":
        for branch in ws:  # every branch the writer may have used must be readable
            found: list[Issue] = []
            _check(r, w, rs, branch, path, found, seen)
            if any(i.kind == "type" and i.path == path for i in found):
                # Say which union became which type, not which of its branches lost out.
                out.append(Issue(path, "type", _type_name(rs), _type_name(ws)))
                return
            out.extend(found)
        return
    if rk == "union":
        # As the spec resolves: the branch of the same type (and name) first, then a promotion.
        same = next((b for b in rs if _same_type(r, w, b, ws)), None)
        if same is not None:
            _check(r, w, same, ws, path, out, seen)
        elif not any(_matches(r, w, branch, ws, seen) for branch in rs):
            out.append(Issue(path, "type", _type_name(rs), _type_name(ws)))
        return
    if rk != wk:
        if wk in _PROMOTIONS and rk in _PROMOTIONS[wk]:
            return
        out.append(Issue(path, "type", _type_name(rs), _type_name(ws)))
        return
    if rk in _PRIMITIVES:
        return
    if rk in ("record", "enum", "fixed") and not _names_match(rs, ws):
        out.append(Issue(path, "name", _short(rs["name"]), _short(ws["name"])))
        return
    if rk == "record":
        key = (rs["name"], ws["name"])
        if key in seen:  # a recursive type already being compared higher up
            return
        seen = seen | {key}
        wfields = {f["name"]: f for f in ws["fields"]}
        for f in rs["fields"]:
            fpath = f"{path}.{f['name']}" if path else f["name"]
            wf = wfields.get(f["name"]) or next(
                (wfields[a] for a in f.get("aliases", ()) if a in wfields), None
            )
            if wf is None:
                if "default" not in f:
                    out.append(Issue(fpath, "missing_default"))
                continue
            _check(r, w, f["type"], wf["type"], fpath, out, seen)
    elif rk == "enum":
        if "default" not in rs:
            for sym in ws["symbols"]:
                if sym not in rs["symbols"]:
                    out.append(Issue(path, "enum_symbol", writer=sym))
    elif rk == "fixed":
        if rs["size"] != ws["size"]:
            out.append(Issue(path, "fixed_size", str(rs["size"]), str(ws["size"])))
    elif rk == "array":
        _check(r, w, rs["items"], ws["items"], f"{path}[]", out, seen)
    elif rk == "map":
        _check(r, w, rs["values"], ws["values"], f"{path}{{}}", out, seen)


def reasons(new: Any, previous: list[Any], level: str = "BACKWARD_TRANSITIVE") -> list[str]:
    """Why `new` breaks `level` against `previous` (oldest first); empty when compatible."""
    level = level.upper()
    if level == "NONE" or not previous:
        return []
    olds = previous if level.endswith("_TRANSITIVE") else previous[-1:]
    out: list[str] = []
    for old in reversed(olds):  # the latest first: it is usually the one that matters
        if level.startswith(("BACKWARD", "FULL")):
            out.extend(i.backward() for i in issues(new, old))
        if level.startswith(("FORWARD", "FULL")):
            out.extend(i.forward() for i in issues(old, new))
    return list(dict.fromkeys(out))  # one line per distinct reason, order kept
