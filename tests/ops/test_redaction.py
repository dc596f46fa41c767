"""Every log record of a hub process is redacted: identity numbers inside messages, arguments
of any type and exception text, and the query of a logged URL (uvicorn's access log)."""

from __future__ import annotations

import io
import logging

import pytest
from uvicorn.logging import AccessFormatter

from ops.redaction import install_log_redaction

NIK = "7413014508900001"


@pytest.fixture
def logged():
    install_log_redaction()
    install_log_redaction()  # idempotent: one factory, not two
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    root = logging.getLogger()
    root.addHandler(handler)
    old = root.level
    root.setLevel(logging.INFO)
    yield buf, handler
    root.removeHandler(handler)
    root.setLevel(old)


def test_numbers_in_messages_and_arguments_of_any_type_are_redacted(logged):
    buf, _ = logged
    log = logging.getLogger("connectors.polling")
    log.info("cursor %s", f"2026-11-02 08:00:00|{NIK}")
    log.warning("key %d of table %s", int(NIK), "BIODATA_WNI")
    log.info("row %(nik)s", {"nik": NIK})
    log.info(f"an f-string with {NIK}")
    text = buf.getvalue()
    assert NIK not in text
    assert "cursor 2026-11-02 08:00:00|<redacted>" in text
    assert "key <redacted> of table BIODATA_WNI" in text


def test_exception_text_is_redacted(logged):
    buf, _ = logged
    try:
        raise ValueError(f"bad NIK {NIK}")
    except ValueError:
        logging.getLogger("streams").exception("mapping failed")
    assert NIK not in buf.getvalue() and "ValueError: bad NIK <redacted>" in buf.getvalue()


def test_uvicorn_access_log_path_and_query_are_redacted(logged):
    buf, handler = logged
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    access = logging.getLogger("uvicorn.access")
    # A uvicorn started in this process before (its own log config) stops this logger's
    # propagation to the root: the handler goes on the logger itself.
    saved = access.level, access.disabled
    access.setLevel(logging.INFO)
    access.disabled = False
    access.addHandler(handler)
    try:
        _log_access(access)
    finally:
        access.removeHandler(handler)
        access.setLevel(saved[0])
        access.disabled = saved[1]
    line = buf.getvalue()
    assert NIK not in line and "WA%20ODE" not in line
    assert '"GET /citizens/<redacted>?<redacted> HTTP/1.1" 400' in line


def _log_access(access: logging.Logger) -> None:
    access.info(
        '%s - "%s %s HTTP/%s" %d',
        "127.0.0.1:5",
        "GET",
        f"/citizens/{NIK}?name=WA%20ODE",
        "1.1",
        400,
    )


def test_a_redacted_record_formats_cleanly_under_fausts_log_formatter(logged, capsys):
    # A Faust worker logs through mode's ExtensionFormatter, which formats the arguments again:
    # a redacted record must not make it print "--- Logging error ---" instead of the line.
    from mode.utils.logging import ExtensionFormatter

    buf, handler = logged
    handler.setFormatter(ExtensionFormatter(stream=buf, fmt="%(levelname)s %(message)s"))
    logging.getLogger("faust.worker").info("offset of %s at %d%%", NIK, 7)
    assert "Logging error" not in capsys.readouterr().err
    assert buf.getvalue().strip().endswith("INFO offset of <redacted> at 7%")
