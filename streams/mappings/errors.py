"""MappingError, the one error of the mappings: its own module so that every mapping module,
the value getters included, can raise it without importing another."""

from __future__ import annotations


class MappingError(ValueError):
    """A change that cannot be mapped; the message names the table/column and never a value."""
