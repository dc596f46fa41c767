"""The built-in data-quality checks a mapping file names (`checks: [{rule: kk_number, column:
NO_KK}]`). A rule the hub lacks is a plug-in: `rule: 'module:function'`, a function of the
column name returning a Check (see plugins.py)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from domain.nik import IdStatus, check_kk, parse_sex

from .person import Check, Issue
from .values import Row, column, to_int


def kk_check(name: str) -> Check:
    """A finding when the No. KK column is not 16 digits of a known district."""

    def check(row: Row) -> Sequence[Issue]:
        value = column(row, name)
        if value is None:
            return ()
        result = check_kk(str(value))
        if result.ok:
            return ()
        rule = "KK_MALFORMED" if result.status is IdStatus.MALFORMED else f"KK_{result.status}"
        return (Issue(rule, name, result.detail),)

    return check


def sex_code_check(name: str) -> Check:
    """A finding when the sex column is empty or holds a code that is neither L nor P."""

    def check(row: Row) -> Sequence[Issue]:
        value = column(row, name)
        if value is None:
            return (Issue("SEX_MISSING", name, "no sex recorded"),)
        try:
            parsed = parse_sex(to_int(value) if str(value).strip().isdigit() else value)
        except ValueError:
            parsed = None
        if parsed is None:
            return (Issue("SEX_CODE_UNKNOWN", name, "sex code is neither 1 (L) nor 2 (P)"),)
        return ()

    return check


CHECKS: dict[str, Callable[[str], Check]] = {"kk_number": kk_check, "sex_code": sex_code_check}
