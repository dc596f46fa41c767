"""`mpphub worker` and the hub's secret: read from MPPHUB_SECRET_FILE, refused when missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from domain.tokens import Tokens, load_secret
from ops.settings import HubSettings, SettingsError
from ops.worker import check_projection_secret, hub_tokens


def test_the_secret_file_comes_from_mpphub_secret_file(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    hub = HubSettings.from_env({"MPPHUB_SECRET_FILE": str(secret)})
    assert hub.stream.secret_file == secret
    assert HubSettings.from_env({}).stream.secret_file == Path(".mpphub/secret")


def test_the_worker_uses_the_hubs_secret(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    made = Tokens(load_secret(secret, create=True))
    tokens = hub_tokens(HubSettings.from_env({"MPPHUB_SECRET_FILE": str(secret)}))
    assert tokens.record("dpmptsp", "tmpemohon", "42") == made.record("dpmptsp", "tmpemohon", "42")


def test_the_worker_refuses_to_make_a_secret_up(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "secret"
    with pytest.raises(SettingsError, match=r"^MPPHUB_SECRET_FILE: .*nowhere/secret"):
        hub_tokens(HubSettings.from_env({"MPPHUB_SECRET_FILE": str(missing)}))
    assert not missing.exists()
    (tmp_path / "short").write_bytes(b"too short")
    with pytest.raises(SettingsError, match="at least 16 bytes"):
        hub_tokens(HubSettings.from_env({"MPPHUB_SECRET_FILE": str(tmp_path / "short")}))


def test_a_projection_writer_on_postgresql_refuses_to_start_without_the_secret(
    tmp_path: Path,
) -> None:
    """Its join locks are keyed under the secret (projections/rows.lock_names)."""
    missing = tmp_path / "nowhere" / "secret"
    pg = "postgresql+psycopg://hub@127.0.0.1:1/projections"
    hub = HubSettings.from_env({"MPPHUB_SECRET_FILE": str(missing), "MPPHUB_PROJECTION_DB_URL": pg})
    assert hub.projection.secret_file == missing
    with pytest.raises(SettingsError, match=r"^MPPHUB_SECRET_FILE: .*nowhere/secret"):
        check_projection_secret(hub)
    sqlite = HubSettings.from_env({"MPPHUB_SECRET_FILE": str(missing)})
    check_projection_secret(sqlite)  # SQLite takes no advisory locks: no secret read
    with pytest.raises(SettingsError, match="MPPHUB_SECRET_FILE"):
        check_projection_secret(sqlite, pg)  # `mpphub rebuild --db postgresql://...`
    load_secret(missing, create=True)
    check_projection_secret(hub)
