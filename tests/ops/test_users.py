"""`mpphub users`: built-in accounts from the command line (argon2id hashes in their own
database, roles checked, a refused change is one line and exit 1), and the demo's accounts."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from ops.cli import main
from ops.commands.users import DEMO_USERS, demo_accounts, logins_text
from projections.access import ROLES
from projections.auth.accounts import Accounts, LoginRefused


def users(db: Path, *args: str, stdin: str | None = None):
    return CliRunner().invoke(main, ["users", *args, "--db", f"sqlite:///{db}"], input=stdin)


def test_add_list_disable_enable_passwd(tmp_path: Path):
    db = tmp_path / "accounts.db"
    pw = tmp_path / "pw"
    pw.write_text("a long enough password\n")
    r = users(db, "add", "Kabid", "--role", "supervisor", "--password-file", str(pw))
    assert r.exit_code == 0, r.output
    r = users(
        db, "add", "admin-dpmptsp", "--role", "agency_admin", "--agency", "DPMPTSP", "--generate"
    )
    assert r.exit_code == 0 and "password: " in r.output
    listed = users(db, "list").output
    assert "kabid" in listed and "supervisor" in listed and "dpmptsp" in listed
    accounts = Accounts(f"sqlite:///{db}")
    assert accounts.verify("kabid", "a long enough password").role == "supervisor"
    assert users(db, "disable", "kabid").exit_code == 0
    assert "disabled" in users(db, "list").output
    try:
        accounts.verify("kabid", "a long enough password")
        raise AssertionError("a disabled account logged in")
    except LoginRefused:
        pass
    assert users(db, "enable", "kabid").exit_code == 0
    r = users(db, "passwd", "kabid", stdin="another long password\nanother long password\n")
    assert r.exit_code == 0, r.output
    assert accounts.verify("kabid", "another long password").username == "kabid"
    accounts.close()


def test_the_hash_is_argon2id_and_the_password_is_nowhere(tmp_path: Path):
    db = tmp_path / "accounts.db"
    accounts = Accounts(f"sqlite:///{db}")
    accounts.add("petugas", "correct horse battery", "officer")
    accounts.close()
    with create_engine(f"sqlite:///{db}").connect() as c:
        (hashed,) = c.execute(text("SELECT password_hash FROM accounts")).one()
    assert hashed.startswith("$argon2id$")
    assert b"correct horse battery" not in db.read_bytes()


def test_a_refused_change_is_one_line_and_exit_1(tmp_path: Path):
    db = tmp_path / "accounts.db"
    weak = tmp_path / "weak"
    weak.write_text("short")
    r = users(db, "add", "x", "--role", "officer", "--password-file", str(weak))
    assert r.exit_code == 1 and "at least 12 characters" in r.output
    r = users(db, "add", "x", "--role", "agency_admin", "--generate")
    assert r.exit_code == 1 and "--agency" in r.output
    r = users(db, "disable", "nobody")
    assert r.exit_code == 1 and "no user 'nobody'" in r.output
    r = users(db, "add", "x", "--role", "root", "--generate")
    assert r.exit_code == 2  # not one of the roles


def test_the_demo_makes_one_account_per_role_afresh(tmp_path: Path):
    db = tmp_path / "accounts.db"
    first = demo_accounts(db)
    assert {role for role, *_ in first} == set(ROLES)
    again = demo_accounts(db)  # a new run: new passwords, old ones gone
    accounts = Accounts(f"sqlite:///{db}")
    for (role, user, password, _agency), (_, _, old, _) in zip(again, first, strict=True):
        assert accounts.verify(user, password).role == role
        assert password != old
    accounts.close()
    text_ = logins_text(again, "http://127.0.0.1:8000")
    assert "http://127.0.0.1:8000/login" in text_
    assert all(user in text_ for _, user, _ in DEMO_USERS)
