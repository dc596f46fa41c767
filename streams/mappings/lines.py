"""YAML with line numbers: a mapping file's data, and the line of every key in it, so that an
error names the file, the line and the key (PyYAML's composer keeps each node's position; the
already pinned PyYAML is enough, no second YAML library).

A key written twice in one mapping is refused (PyYAML would silently keep the last)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[Any, ...]  # a path of keys / list indexes into the document


class MappingFileError(ValueError):
    """A mapping file that cannot be used: `file:line: key: what is wrong`."""

    def __init__(self, file: str | Path, line: int | None, key: str, message: str):
        self.file, self.line, self.key, self.message = str(file), line, key, message
        where = f"{self.file}:{line}" if line else self.file
        super().__init__(f"{where}: {key}: {message}" if key else f"{where}: {message}")


@dataclass
class Document:
    """A parsed YAML file: its data and the line (1-based) of each key path."""

    file: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Sequence[Any]) -> int | None:
        """The line of `path`, else of its nearest enclosing key that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())

    def error(self, path: Sequence[Any], message: str) -> MappingFileError:
        """A MappingFileError at `path` (its dotted key and its line)."""
        return MappingFileError(self.file, self.line(path), dotted(path), message)


def dotted(path: Sequence[Any]) -> str:
    """`tables.BIODATA_WNI.fields.name` for a key path (list indexes as [i])."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load(file: str | Path, text: str | None = None) -> Document:
    """Parse a YAML file (or `text`, named `file`); MappingFileError with the line on bad YAML."""
    file = Path(file)
    if text is None:
        try:
            text = file.read_text(encoding="utf-8")
        except OSError as e:
            raise MappingFileError(file, None, "", f"cannot read: {e.strerror}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        doc = Document(file, None)
        doc.data = _build(loader, node, (), doc) if node is not None else None
        return doc
    except yaml.MarkedYAMLError as e:
        line = e.problem_mark.line + 1 if e.problem_mark else None
        raise MappingFileError(file, line, "", f"not valid YAML: {e.problem}") from None
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, doc: Document) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if isinstance(key, list | dict):
                raise MappingFileError(doc.file, key_node.start_mark.line + 1, dotted(path),
                                       "a key must be a plain value")  # fmt: skip
            if key in out:
                raise MappingFileError(
                    doc.file, key_node.start_mark.line + 1, dotted((*path, key)), "written twice"
                )
            doc.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, (*path, key), doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, i), doc) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)
