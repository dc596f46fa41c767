"""`mpphub users`: the front office's built-in accounts (add, disable, enable, passwd, list).

Accounts live in the API's accounts database (MPPHUB_ACCOUNTS_DB_URL; .mpphub/accounts.db), apart
from the projections. A password is asked for twice without echo, read from --password-file, or
generated (--generate, printed once).
"""

from __future__ import annotations

import secrets
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

console = Console()


def _accounts(db_url: str | None):
    from projections.auth.accounts import Accounts

    from ..settings import HubSettings

    url = db_url or HubSettings.from_env().api.auth.accounts_db_url
    return Accounts(url)


def _password(password_file: Path | None, generate: bool) -> tuple[str, bool]:
    if password_file and generate:
        raise click.UsageError("give --password-file or --generate, not both")
    if password_file:
        return password_file.read_text().strip(), False
    if generate:
        return secrets.token_urlsafe(15), True
    return click.prompt("password", hide_input=True, confirmation_prompt=True), False


def _db_option(f):
    return click.option(
        "--db",
        "db_url",
        default=None,
        help="Accounts database URL [env MPPHUB_ACCOUNTS_DB_URL; sqlite:///.mpphub/accounts.db].",
    )(f)


def _password_options(f):
    f = click.option(
        "--password-file",
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="Read the password from this file (first line).",
    )(f)
    return click.option("--generate", is_flag=True, help="Generate a password and print it once.")(
        f
    )


@click.group()
def users() -> None:
    """Built-in accounts of the front office (for a regency without an identity provider)."""


@users.command("add")
@click.argument("username")
@click.option(
    "--role",
    required=True,
    type=click.Choice(["officer", "supervisor", "auditor", "agency_admin"]),
    help="What the account may see and do.",
)
@click.option("--agency", default=None, help="The agency an agency_admin administers.")
@_password_options
@_db_option
def add(username, role, agency, password_file, generate, db_url) -> None:
    """Add an account (argon2id hash of its password)."""
    password, shown = _password(password_file, generate)
    user = _accounts(db_url).add(username, password, role, agency)
    console.print(f"added {user.username} ({user.role}{', ' + user.agency if user.agency else ''})")
    if shown:
        console.print(f"password: {password}", highlight=False)


@users.command("passwd")
@click.argument("username")
@_password_options
@_db_option
def passwd(username, password_file, generate, db_url) -> None:
    """Set a new password (unlocks the account, ends its sessions)."""
    password, shown = _password(password_file, generate)
    _accounts(db_url).set_password(username, password)
    console.print(f"password of {username} changed")
    if shown:
        console.print(f"password: {password}", highlight=False)


@users.command("disable")
@click.argument("username")
@_db_option
def disable(username, db_url) -> None:
    """Disable an account: it cannot log in, its sessions end now."""
    _accounts(db_url).set_disabled(username, True)
    console.print(f"{username} disabled")


@users.command("enable")
@click.argument("username")
@_db_option
def enable(username, db_url) -> None:
    """Enable a disabled account again."""
    _accounts(db_url).set_disabled(username, False)
    console.print(f"{username} enabled")


@users.command("list")
@_db_option
def list_users(db_url) -> None:
    """Every account: role, agency, disabled or locked."""
    table = Table("user", "role", "agency", "state")
    for u in _accounts(db_url).users():
        state = "disabled" if u.disabled else "locked" if u.locked else "active"
        table.add_row(u.username, u.role, u.agency or "", state)
    console.print(table)


# The demo's accounts, one per role (ops/demo.py makes them afresh with new passwords each run).
DEMO_USERS = (
    ("officer", "petugas", None),
    ("supervisor", "kabid", None),
    ("auditor", "inspektur", None),
    ("agency_admin", "admin-dukcapil", "disdukcapil"),
)


def demo_accounts(db: Path) -> list[tuple[str, str, str, str | None]]:
    """A fresh accounts database at `db` with one account per role: (role, user, password,
    agency) for each."""
    from projections.auth.accounts import Accounts
    from projections.swap import remove_sqlite_file

    remove_sqlite_file(db)
    accounts = Accounts(f"sqlite:///{db}")
    made = []
    try:
        for role, user, agency in DEMO_USERS:
            password = secrets.token_urlsafe(12)
            accounts.add(user, password, role, agency)
            made.append((role, user, password, agency))
    finally:
        accounts.close()
    return made


def logins_text(made: list[tuple[str, str, str, str | None]], base: str) -> str:
    """How to log in to the demo, one line per account."""
    lines = [f"  log in at           {base}/login (passwords made for this run):"]
    for role, user, password, agency in made:
        lines.append(f"    {role:<13} {user:<15} {password}" + (f"  ({agency})" if agency else ""))
    return "\n".join(lines)
