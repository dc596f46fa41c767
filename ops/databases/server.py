"""What the throwaway database servers share: a home directory under the state dir, the service
OS user when we are root, the server process in its own process group, readiness by a real
connection, and a stop that leaves no process behind."""

from __future__ import annotations

import ctypes
import os
import pwd
import re
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Self

from ..processes import LOOPBACK, owned_pid, port_is_free, stop_process

_SUN_PATH_MAX = 107  # sockaddr_un.sun_path is 108 bytes on Linux, one of them the NUL
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_PR_SET_PDEATHSIG = 1


class DatabaseServerError(RuntimeError):
    """A throwaway server could not be set up, started or stopped; the message says where."""


class ServerNotInstalled(DatabaseServerError):
    """The server binaries are missing; the message names the apt-get command that brings them."""


def check_name(name: str, what: str) -> str:
    """``name`` if it is a plain SQL identifier, else a DatabaseServerError naming ``what``."""
    # Names go into DDL as identifiers; a strict pattern keeps quoting trivial on both servers.
    if not _NAME_RE.match(name):
        raise DatabaseServerError(f"{what} {name!r} is not a plain identifier ([A-Za-z0-9_], <64)")
    return name


def _die_with_parent(sig: int) -> Callable[[], None]:
    """A preexec_fn that has the kernel send ``sig`` to the child when this process dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def arm() -> None:
        libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), sig)

    return arm


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except FileNotFoundError:
        return "(no log)"
    return " | ".join(ln.strip() for ln in text[-lines:]) or "(empty log)"


class DatabaseServer:
    """A throwaway server in ``<state_dir>/<kind>``; subclasses say how to initialise, run and
    talk to it."""

    kind = ""  # directory name under the state dir and the word used in messages
    os_user = ""  # OS user that runs the server when we are root (the servers refuse root)
    stop_signal = signal.SIGTERM
    install_hint = ""
    connect_errors: tuple[type[Exception], ...] = ()  # the driver's "not ready yet" errors

    def __init__(
        self,
        state_dir: str | os.PathLike[str],
        port: int,
        *,
        database: str = "mpphub",
        user: str = "mpphub",
        password: str = "mpphub",  # dev default: the server only listens on loopback
        durable: bool = False,
        die_with_parent: bool = False,
        startup_timeout: float = 60.0,
    ) -> None:
        self.home = Path(state_dir).absolute() / self.kind
        self.datadir = self.home / "data"
        self.log_path = self.home / f"{self.kind}.log"
        self.port = port
        self.database = check_name(database, "database")
        self.user = check_name(user, "user")
        self.password = password
        # durable=False trades crash safety for speed (no fsync): right for throwaway data.
        self.durable = durable
        self.die_with_parent = die_with_parent
        self.startup_timeout = startup_timeout
        self._proc: subprocess.Popen[bytes] | None = None

    # --- what subclasses provide --------------------------------------------------------------
    def _binaries(self) -> list[Path]:
        raise NotImplementedError

    def _initialised(self) -> bool:
        raise NotImplementedError

    def _init_command(self) -> list[str]:
        raise NotImplementedError

    def _server_command(self) -> list[str]:
        raise NotImplementedError

    def _pid_file(self) -> Path:
        raise NotImplementedError

    def _socket_path(self) -> Path:
        raise NotImplementedError

    def _try_admin_connect(self) -> None:
        raise NotImplementedError

    def _set_up_user_and_database(self) -> None:
        raise NotImplementedError

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL of ``database`` on this server, as the application user."""
        raise NotImplementedError

    def create_database(self, name: str) -> str:
        """Create database ``name`` usable by the application user; return its URL."""
        raise NotImplementedError

    def drop_database(self, name: str) -> None:
        """Drop database ``name``, ending whatever still uses it (sessions, replication)."""
        raise NotImplementedError

    # --- public -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        """SQLAlchemy URL of the server's own database as the application user."""
        return self.url_for(self.database)

    @property
    def pid(self) -> int | None:
        """Pid of this server's main process while it runs (ours or found by its pid file)."""
        if self._proc is not None and self._proc.poll() is None:
            return self._proc.pid
        try:
            pid = int(self._pid_file().read_text().split()[0])
        except (FileNotFoundError, ValueError, IndexError):
            return None
        # The pid file may be stale and the pid reused: only a process serving *our* data
        # directory counts.
        return pid if owned_pid(pid, str(self.datadir)) else None

    @property
    def running(self) -> bool:
        """True while the server process is alive."""
        return self.pid is not None

    def start(self) -> None:
        """Initialise the data directory if needed, start, wait until ready, create user + db.

        Idempotent: a server already running from this state dir is only checked and set up.
        """
        self._check_installed()
        if self.running:
            self._wait_ready(time.monotonic() + self.startup_timeout)
            self._set_up_user_and_database()
            return
        self._prepare_home()
        if not port_is_free(self.port):
            raise DatabaseServerError(
                f"{self.kind}: port {LOOPBACK}:{self.port} is already in use "
                f"(state dir {self.home})"
            )
        if not self._initialised():
            self._run_init()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(
                self._server_command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                **self._spawn_kwargs(),
            )
        try:
            self._wait_ready(time.monotonic() + self.startup_timeout)
            self._set_up_user_and_database()
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the server: its shutdown signal, SIGKILL to its process group after ``timeout``."""
        pid = self.pid
        if pid is None:
            self._proc = None
            return
        child = self._proc if self._proc is not None and self._proc.pid == pid else None
        # start_new_session made the server a group leader: a SIGKILL takes its backends too.
        survivors = stop_process(
            pid, marker=str(self.datadir), sig=self.stop_signal, timeout=timeout, child=child
        )
        self._proc = None
        if survivors:
            raise DatabaseServerError(
                f"{self.kind}: processes {survivors} of group {pid} survived SIGKILL"
            )
        if self.running:
            raise DatabaseServerError(f"{self.kind}: pid {pid} ({self.home}) did not stop")

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.home)!r}, port={self.port})"

    # --- process and file plumbing ------------------------------------------------------------
    def _check_installed(self) -> None:
        missing = [str(p) for p in self._binaries() if not os.access(p, os.X_OK)]
        if missing:
            raise ServerNotInstalled(
                f"{self.kind} server binaries not found ({', '.join(missing)}): "
                f"install them with `{self.install_hint}`"
            )

    def _as_root(self) -> bool:
        return os.geteuid() == 0

    def _service_ids(self) -> tuple[int, int]:
        try:
            pw = pwd.getpwnam(self.os_user)
        except KeyError:
            raise ServerNotInstalled(
                f"{self.kind}: OS user {self.os_user!r} (needed to run the server as root) does "
                f"not exist: `{self.install_hint}` creates it"
            ) from None
        return pw.pw_uid, pw.pw_gid

    def _spawn_kwargs(self) -> dict[str, object]:
        kwargs: dict[str, object] = {
            "cwd": self.home,
            # PATH only: no PG*/MYSQL_* variables of the caller leak into the server.
            "env": {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.home)},
            # Own process group, so stop() can take the server's children down with it and a
            # Ctrl-C in the terminal does not kill it half-way through a test.
            "start_new_session": True,
        }
        if self._as_root():
            uid, gid = self._service_ids()
            kwargs.update(user=uid, group=gid, extra_groups=[])
        if self.die_with_parent:
            # Runs after the uid change (which would clear it): a killed test run leaves no server.
            kwargs["preexec_fn"] = _die_with_parent(int(self.stop_signal))
        return kwargs

    def _prepare_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        if len(str(self._socket_path())) > _SUN_PATH_MAX:
            raise DatabaseServerError(
                f"{self.kind}: socket path {self._socket_path()} is longer than {_SUN_PATH_MAX} "
                "bytes: use a shorter state dir"
            )
        if not self._as_root():
            return
        uid, gid = self._service_ids()
        for parent in self.home.parents:
            st = parent.stat()
            if st.st_uid == uid:
                ok = st.st_mode & stat.S_IXUSR
            elif st.st_gid == gid:
                ok = st.st_mode & stat.S_IXGRP
            else:
                ok = st.st_mode & stat.S_IXOTH
            if not ok:
                raise DatabaseServerError(
                    f"{self.kind}: OS user {self.os_user} cannot reach {self.home} because "
                    f"{parent} is not searchable for it: use a state dir elsewhere or "
                    f"`chmod o+x {parent}`"
                )
        # The home and what we put in it; the data dir is created by the service user itself.
        for path in [self.home, *self.home.iterdir()]:
            if path.lstat().st_uid != uid:
                os.lchown(path, uid, gid)

    def _run_init(self) -> None:
        started = time.monotonic()
        with open(self.log_path, "ab") as log:
            kwargs = self._spawn_kwargs()
            kwargs.pop("preexec_fn", None)
            try:
                proc = subprocess.run(
                    self._init_command(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    timeout=180,
                    **kwargs,  # type: ignore[call-overload]
                )
            except subprocess.TimeoutExpired:
                raise DatabaseServerError(
                    f"{self.kind}: initialising {self.datadir} took over 180 s; "
                    f"log {self.log_path}: {_log_tail(self.log_path)}"
                ) from None
        if proc.returncode != 0:
            shutil.rmtree(self.datadir, ignore_errors=True)  # so the next start tries afresh
            raise DatabaseServerError(
                f"{self.kind}: initialising {self.datadir} failed (exit {proc.returncode}, "
                f"{time.monotonic() - started:.1f} s); log {self.log_path}: "
                f"{_log_tail(self.log_path)}"
            )

    def _wait_ready(self, deadline: float) -> None:
        last: Exception | None = None
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.poll() is not None:
                raise DatabaseServerError(
                    f"{self.kind} on {LOOPBACK}:{self.port} exited during start (code "
                    f"{self._proc.returncode}); log {self.log_path}: {_log_tail(self.log_path)}"
                )
            try:
                self._try_admin_connect()
                return
            except (*self.connect_errors, OSError) as e:
                last = e
                time.sleep(0.1)
        raise DatabaseServerError(
            f"{self.kind} on {LOOPBACK}:{self.port} accepted no connection within "
            f"{self.startup_timeout:.0f} s (last error: {str(last).strip()[:200]}); "
            f"log {self.log_path}: {_log_tail(self.log_path)}"
        )
