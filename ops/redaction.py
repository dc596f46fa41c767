"""No personal data in any log line: every record any logger of a hub process makes (ours,
uvicorn's, Faust's, aiokafka's) passes through one LogRecord factory that replaces each number
of 12 digits or more (a NIK, a KK number, a source key or a polling position `ts|NIK`) with
'<redacted>', and drops the query string of a logged URL (uvicorn's access log).

A factory, not a handler filter: handlers are added by uvicorn and Faust after us, and a filter
on one logger does not see records of its children. Installed once by `mpphub` (ops/cli.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from domain.nik import redact_numbers_in

_QUERY = re.compile(r"\?[^\s\"']*")
_installed = False


def redact(value: Any) -> Any:
    """A log argument with identity numbers and URL query strings redacted (not text: as
    it is)."""
    if isinstance(value, str):
        return redact_numbers_in(_QUERY.sub("?<redacted>", value))
    return value


# Loggers whose formatter reads the arguments themselves (uvicorn's AccessFormatter takes the
# client, method, path... from record.args): their text arguments are redacted one by one.
_ARGS_READ_BY_FORMATTER = ("uvicorn.access",)


def _redacting(factory: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def make(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        if record.name.startswith(_ARGS_READ_BY_FORMATTER) and isinstance(record.args, tuple):
            record.args = tuple(redact(a) for a in record.args)
        else:
            # Formatted now, redacted whole: an argument of any type is covered. Arguments become
            # (), not None: mode's formatter wraps a non-tuple into (None,) and formats again.
            try:
                record.msg, record.args = redact_numbers_in(record.getMessage()), ()
            except (TypeError, ValueError):  # a malformed call: logging reports it as usual
                pass
        if record.exc_info and record.exc_info[1] is not None:
            # Exception text is formatted later by the handler: format it now, redacted.
            record.exc_text = redact_numbers_in(
                logging.Formatter().formatException(record.exc_info)
            )
        return record

    return make


def install_log_redaction() -> None:
    """Redact every log record this process makes from now on (idempotent)."""
    global _installed
    if not _installed:
        logging.setLogRecordFactory(_redacting(logging.getLogRecordFactory()))
        _installed = True
