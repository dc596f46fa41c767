"""Built-in accounts, for a regency without an identity provider: users, argon2id hashes,
lockout, and the server-side sessions their login cookies name.

They live in their own database (settings `accounts_db_url`, an SQLite file under `.mpphub/` by
default), never in the projection database: the worker writes projections with its own
credentials and must not be able to add a supervisor or read a hash; only the API and
`mpphub users` open this one. A session row holds a SHA-256 of the cookie's random token (not
the token), so a copy of the database logs nobody in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, DateTime, Integer, String, delete, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from ..access import ROLES
from ..store import make_engine

MAX_FAILURES = 5  # consecutive wrong passwords before the account locks
LOCKOUT = dt.timedelta(minutes=15)
SESSION_TTL = dt.timedelta(hours=8)  # one working day; then log in again
MIN_PASSWORD = 12
# argon2-cffi's defaults are RFC 9106's second recommended set (argon2id, 64 MiB, t=3, p=4).
_HASHER = PasswordHasher()
_DUMMY_HASH = _HASHER.hash("an account that does not exist")


class AccountError(ValueError):
    """A refused account change (unknown user, weak password, bad role); one line."""


class LoginRefused(Exception):
    """Wrong user or password, a locked or disabled account: the message is the same for all
    but a lockout, so the login form does not tell which user names exist."""


class _Base(DeclarativeBase):
    pass


class Account(_Base):
    """A front-office user of the built-in login."""

    __tablename__ = "accounts"
    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String)
    role: Mapped[str] = mapped_column(String(32))
    agency: Mapped[str | None] = mapped_column(String(64))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)


class LoginSession(_Base):
    """A logged-in browser: the hash of its cookie token, its CSRF token, when it ends."""

    __tablename__ = "login_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)


@dataclass(frozen=True)
class User:
    """An account as the API and the CLI see it (never the hash)."""

    username: str
    role: str
    agency: str | None
    disabled: bool
    locked: bool


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _digest(token: str) -> str:
    # A random 256-bit token needs no key or salt: nothing to guess.
    return hashlib.sha256(token.encode()).hexdigest()


class Accounts:
    """The accounts database: users, passwords, lockout, sessions."""

    def __init__(self, url: str):
        self.engine = make_engine(url)
        _Base.metadata.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    # --- accounts ----------------------------------------------------------------------------
    def add(self, username: str, password: str, role: str, agency: str | None = None) -> User:
        """A new account; AccountError for a taken name, an unknown role, a weak password, or
        an agency administrator without an agency."""
        username = _check_username(username)
        agency = _check_role(role, agency)
        _check_password(password)
        with self._session() as s:
            if s.get(Account, username) is not None:
                raise AccountError(f"user {username!r} exists (use `mpphub users passwd`)")
            acc = Account(
                username=username,
                password_hash=_HASHER.hash(password),
                role=role,
                agency=agency,
                disabled=False,
                failed_logins=0,
                created_at=_now(),
            )
            s.add(acc)
            s.commit()
            return _user(acc)

    def set_password(self, username: str, password: str) -> None:
        """A new password; unlocks the account and ends its sessions."""
        _check_password(password)
        with self._session() as s:
            acc = self._get(s, username)
            acc.password_hash = _HASHER.hash(password)
            acc.failed_logins, acc.locked_until = 0, None
            s.execute(delete(LoginSession).where(LoginSession.username == acc.username))
            s.commit()

    def set_disabled(self, username: str, disabled: bool = True) -> None:
        """Disable (or enable) an account; disabling ends its sessions at once."""
        with self._session() as s:
            acc = self._get(s, username)
            acc.disabled = disabled
            if disabled:
                s.execute(delete(LoginSession).where(LoginSession.username == acc.username))
            s.commit()

    def users(self) -> list[User]:
        """Every account, by name."""
        with self._session() as s:
            return [_user(a) for a in s.scalars(select(Account).order_by(Account.username))]

    def user(self, username: str) -> User | None:
        """One account, or None."""
        with self._session() as s:
            acc = s.get(Account, username.strip().lower())
            return _user(acc) if acc else None

    def _get(self, s: Session, username: str) -> Account:
        acc = s.get(Account, username.strip().lower())
        if acc is None:
            raise AccountError(f"no user {username!r} (see `mpphub users list`)")
        return acc

    # --- login -------------------------------------------------------------------------------
    def verify(self, username: str, password: str) -> User:
        """The account when the password is right and the account usable; LoginRefused else.
        Every wrong password counts toward the lockout, also while locked."""
        now = _now()
        with self._session() as s:
            acc = s.get(Account, username.strip().lower())
            if acc is None:
                _verify_hash(_DUMMY_HASH, password)  # same time as for a real user
                raise LoginRefused("wrong user name or password")
            ok = _verify_hash(acc.password_hash, password)
            locked = acc.locked_until is not None and acc.locked_until > now
            if not ok:
                acc.failed_logins += 1
                if acc.failed_logins >= MAX_FAILURES:
                    acc.locked_until = now + LOCKOUT
                s.commit()
            if locked or (not ok and acc.failed_logins >= MAX_FAILURES):
                raise LoginRefused("account locked after repeated failures; try again later")
            if not ok or acc.disabled:
                raise LoginRefused("wrong user name or password")
            acc.failed_logins, acc.locked_until = 0, None
            if _HASHER.check_needs_rehash(acc.password_hash):
                acc.password_hash = _HASHER.hash(password)
            s.commit()
            return _user(acc)

    def open_session(self, username: str) -> tuple[str, str]:
        """A new session for a verified user: (cookie token, CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self._session() as s:
            s.execute(delete(LoginSession).where(LoginSession.expires_at <= _now()))
            s.add(
                LoginSession(
                    token_hash=_digest(token),
                    username=username,
                    csrf=csrf,
                    expires_at=_now() + SESSION_TTL,
                )
            )
            s.commit()
        return token, csrf

    def session_user(self, token: str) -> tuple[User, str] | None:
        """(the user, the session's CSRF token) for a live session of an enabled account."""
        with self._session() as s:
            row = s.get(LoginSession, _digest(token))
            if row is None or row.expires_at <= _now():
                return None
            acc = s.get(Account, row.username)
            if acc is None or acc.disabled:
                return None
            return _user(acc), row.csrf

    def close_session(self, token: str) -> None:
        """Log out: the session is gone."""
        with self._session() as s:
            s.execute(delete(LoginSession).where(LoginSession.token_hash == _digest(token)))
            s.commit()


def _verify_hash(hashed: str, password: str) -> bool:
    try:
        return _HASHER.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _user(acc: Account) -> User:
    locked = acc.locked_until is not None and acc.locked_until > _now()
    return User(acc.username, acc.role, acc.agency, acc.disabled, locked)


def _check_username(username: str) -> str:
    name = username.strip().lower()
    if not (1 <= len(name) <= 64) or not all(c.isalnum() or c in "._-" for c in name):
        raise AccountError("a user name is 1-64 letters, digits, '.', '_' or '-'")
    return name


def _check_role(role: str, agency: str | None) -> str | None:
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    agency = (agency or "").strip().lower() or None
    if ROLES[role].agency_bound and not agency:
        raise AccountError(f"role {role} needs --agency (the agency it administers)")
    if not ROLES[role].agency_bound and agency:
        raise AccountError(f"role {role} is not bound to an agency; drop --agency")
    return agency


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
