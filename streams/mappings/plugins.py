"""The plug-in protocol: code for what a mapping file cannot say, named from the file as
'package.module:function' and imported when the mapping is built (never from streams/).

- a table plug-in (`plugin:` of a table) is a TablePlugin: RawChange -> canonical events;
- a check plug-in (`rule:` of a check) is a CheckPlugin: column name -> Check.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

from ..canonical import Canonical
from .change import RawChange
from .person import Check


class TablePlugin(Protocol):
    """Maps one raw change of a table to its canonical events (MappingError when it cannot)."""

    def __call__(self, change: RawChange) -> list[Canonical]: ...


class CheckPlugin(Protocol):
    """Makes the check of one column."""

    def __call__(self, column: str) -> Check: ...


def load_plugin(spec: str) -> Any:
    """The callable named 'module:function'; ValueError saying what is missing."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"plug-in module {module_name} cannot be imported: {e}") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ValueError(f"plug-in module {module_name} has no function {attr}")
    return fn
