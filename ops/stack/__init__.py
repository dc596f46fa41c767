"""The local stack: a KRaft Kafka cluster (1 or 3 nodes) and Apicurio Registry on loopback.

`Stack(config).up()` is idempotent; `down()` stops only the processes it started (by pid).
The layout under the state directory:

    stack.json          what `up` started (brokers, ports), read by status/down/logs
    kafka-N/            broker N: server.properties, data/, server.log, kafka-N.pid
    registry/           registry: db/ (H2 file), registry.log, registry.pid
    secure/             with --secure: CA, server certificate, SCRAM and registry passwords (0600),
                        client.env (the MPPHUB_* variables a hub process needs)
    keycloak/           with --with-keycloak: keycloak.log, its admin and demo users' passwords
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from eventlog.settings import KafkaSettings

from ..processes import free_block, pid_in_file, port_is_free, port_is_listening, wait_for
from .cds import JvmArchives, ensure_archives
from .dist import Dist, StackError, find_java, pinned_versions
from .kafka import KafkaNode, broker_specs, cluster_id_for
from .keycloak import KeycloakNode
from .registry import RegistryNode
from .secure import HUB_USER, StackSecrets

__all__ = ["Stack", "StackConfig", "StackError", "ServiceStatus"]


def _env_int(env: dict[str, str], key: str, default: int) -> int:
    raw = env.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise StackError(f"{key}={raw!r} is not a port number") from None
    if not 1 <= value <= 65535:
        raise StackError(f"{key}={value} is outside 1..65535")
    return value


@dataclass(frozen=True)
class StackConfig:
    """Where the stack lives and which loopback ports it uses."""

    state_dir: Path = Path(".mpphub/stack")
    dist_dir: Path = Path(".mpphub/dist")
    brokers: int = 1
    kafka_port: int = 9092
    controller_port: int = 9093
    registry_port: int = 8081
    kafka_heap_mb: int = 512
    registry_heap_mb: int = 384
    # SASL_SSL (SCRAM-SHA-512) brokers and an HTTPS registry with basic auth.
    secure: bool = False
    # Keycloak (OIDC provider for the API's bearer tokens) on keycloak_port and keycloak_port+1.
    keycloak: bool = False
    keycloak_port: int = 8180

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides) -> StackConfig:
        """Defaults, then MPPHUB_* environment variables, then explicit overrides (CLI flags)."""
        env = dict(os.environ if env is None else env)
        cfg = {
            "state_dir": Path(env.get("MPPHUB_STATE_DIR", ".mpphub/stack")),
            "dist_dir": Path(env.get("MPPHUB_DIST_DIR", ".mpphub/dist")),
            "kafka_port": _env_int(env, "MPPHUB_KAFKA_PORT", 9092),
            "controller_port": _env_int(env, "MPPHUB_CONTROLLER_PORT", 9093),
            "registry_port": _env_int(env, "MPPHUB_REGISTRY_PORT", 8081),
            "keycloak_port": _env_int(env, "MPPHUB_KEYCLOAK_PORT", 8180),
        }
        cfg.update({k: v for k, v in overrides.items() if v is not None})
        config = cls(**cfg)
        config.validate()
        return config

    def validate(self) -> None:
        """Refuse a config that cannot work, naming the setting."""
        if self.brokers not in (1, 3):
            raise StackError(f"brokers={self.brokers}: the local stack runs 1 or 3 brokers")
        ports = self.ports()
        clash = {p for p in ports.values() if list(ports.values()).count(p) > 1}
        if clash:
            raise StackError(
                f"ports overlap: {sorted(clash)}; kafka uses port+2i and controller+2i"
            )

    def ports(self) -> dict[str, int]:
        """Every port the stack listens on, by service role."""
        out: dict[str, int] = {}
        for spec in broker_specs(self.brokers, self.kafka_port, self.controller_port, Path()):
            out[spec.name] = spec.port
            out[f"{spec.name} controller"] = spec.controller_port
        out["registry"] = self.registry_port
        if self.keycloak:
            out["keycloak"] = self.keycloak_port
            out["keycloak management"] = self.keycloak_port + 1
        return out

    @property
    def bootstrap(self) -> str:
        return ",".join(
            s.address
            for s in broker_specs(self.brokers, self.kafka_port, self.controller_port, Path())
        )


@dataclass
class ServiceStatus:
    name: str
    healthy: bool
    pid: int | None
    port: int
    address: str
    detail: str = ""


@dataclass
class Stack:
    """The running (or to-be-running) local stack described by a StackConfig."""

    config: StackConfig
    log: object = field(default=print, repr=False)
    # True: the services get SIGTERM when the process that started them dies (the demo).
    die_with_parent: bool = False
    # True: a throwaway stack whose JVMs make the class-data archives (ops/stack/cds.py).
    making_archives: bool = field(default=False, repr=False)
    archives_dir: Path | None = field(default=None, repr=False)  # default: the dist's cds/

    def __post_init__(self) -> None:
        # What the caller asked for; `config` becomes what actually runs, when a stack does.
        self.requested = self.config
        self.config = self._effective_config()
        c = self.config
        self.dist = Dist(c.dist_dir.resolve(), pinned_versions())
        state = c.state_dir.resolve()
        specs = broker_specs(c.brokers, c.kafka_port, c.controller_port, state)
        self.secrets = StackSecrets(state / "secure") if c.secure else None
        self.archives = self._archives(self.making_archives)
        self.kafka = [
            KafkaNode(s, specs, self.dist, c.kafka_heap_mb, self.secrets, self.archives)
            for s in specs
        ]
        self.registry = RegistryNode(
            state / "registry",
            c.registry_port,
            self.dist,
            c.registry_heap_mb,
            self.secrets,
            self.archives,
        )
        self.keycloak = None
        if c.keycloak:
            self.keycloak = KeycloakNode(state / "keycloak", c.keycloak_port, self.dist.root)
        for proc in [n.proc for n in self.kafka] + [self.registry.proc] + self._extra_procs():
            proc.die_with_parent = self.die_with_parent

    def _archives(self, making: bool) -> JvmArchives | None:
        try:
            root = self.archives_dir or self.dist.root / "cds"
            return JvmArchives(root, find_java(), making=making)
        except StackError:
            return None  # no Java: up() says how to get it

    def _make_archives(self) -> dict[str, tuple[str, str | None]]:
        """A throwaway single-broker stack on free ports whose JVMs dump the class-data
        archives when they stop (ops/stack/cds.py); returns each program's class path and cwd."""
        with tempfile.TemporaryDirectory(prefix="mpphub-cds-") as tmp:
            first = free_block(3)
            cfg = StackConfig(
                state_dir=Path(tmp),
                dist_dir=self.config.dist_dir,
                kafka_port=first,
                controller_port=first + 1,
                registry_port=first + 2,
            )
            # die_with_parent as ours: a demo killed -9 while this runs leaves no JVM behind.
            trainer = Stack(
                cfg,
                log=lambda m: None,
                die_with_parent=self.die_with_parent,
                making_archives=True,
                archives_dir=self.archives.root,
            )
            try:
                trainer.up(timeout=120)
            finally:
                trainer.down()
        home = str(self.dist.registry_home)
        return {
            "kafka-format": (self.kafka[0].classpath, None),
            "kafka": (self.kafka[0].classpath, None),
            "registry": (str(self.dist.registry_jar()), home),
        }

    def _extra_procs(self) -> list:
        return [self.keycloak.proc] if self.keycloak is not None else []

    # --- what `up` recorded, so that status/down address the stack that runs ----------------
    @property
    def _record(self) -> Path:
        return self.config.state_dir / "stack.json"

    def _effective_config(self) -> StackConfig:
        record = self.config.state_dir / "stack.json"
        if not record.exists():
            return self.config
        saved = json.loads(record.read_text())
        saved_cfg = StackConfig(
            **{**saved, "state_dir": Path(saved["state_dir"]), "dist_dir": Path(saved["dist_dir"])}
        )
        if self._any_running(saved_cfg):
            return saved_cfg
        return self.config

    def _any_running(self, cfg: StackConfig) -> bool:
        state = cfg.state_dir.resolve()
        names = [f"kafka-{i + 1}" for i in range(cfg.brokers)]
        for name in names:
            pid_file = state / name / f"{name}.pid"
            if _pid_alive(pid_file):
                return True
        return _pid_alive(state / "registry" / "registry.pid")

    @property
    def bootstrap(self) -> str:
        return self.config.bootstrap

    @property
    def registry_url(self) -> str:
        return self.registry.url

    def kafka_settings(self) -> KafkaSettings:
        """Client settings that reach this stack's brokers (the hub user's, when secured)."""
        if self.secrets is None:
            return KafkaSettings(bootstrap=self.bootstrap)
        return self.secrets.client_settings(self.bootstrap)

    def registry_auth(self) -> dict:
        """httpx keyword arguments (auth, verify) that reach this stack's registry."""
        if self.secrets is None:
            return {}
        pw = self.secrets.registry_password.read_text().strip()
        verify = ssl.create_default_context(cafile=self.secrets.ca)
        return {"auth": (HUB_USER, pw), "verify": verify}

    # --- lifecycle ---------------------------------------------------------------------------
    def up(
        self, timeout: float = 120.0, cancelled: Callable[[], bool] | None = None
    ) -> list[ServiceStatus]:
        """Start whatever is not running yet and wait until every service answers (or until
        ``cancelled()`` is true: the caller then stops what was started)."""
        c = self.config
        self._check_requested_matches_running()
        find_java()  # before anything is fetched: no Java, no stack
        self._check_ports()
        self.dist.ensure(log=self.log)
        if self.archives is not None:
            ensure_archives(self.archives, self._make_archives, self.log)
        state = c.state_dir.resolve()
        self._check_formatted_size(state)
        self._check_security_matches_data(state)
        if self.secrets is not None:
            self.secrets.make()
            self.secrets.write_client_env(self.bootstrap, self.registry_url)
        cid = cluster_id_for(state)
        started = []
        if self.keycloak is not None and self.keycloak.proc.pid() is None:
            self.keycloak.start()  # first: it boots slowest, alongside the brokers
            started.append("keycloak")
        if self.registry.proc.pid() is None:
            self.registry.start()  # before the brokers' storage format: it boots slower
            started.append("registry")
        stopped = [node for node in self.kafka if node.proc.pid() is None]
        # Each format is a JVM of its own (~1-2 s): the brokers' run side by side.
        with ThreadPoolExecutor(max(1, len(stopped))) as pool:
            list(pool.map(lambda node: node.prepare(cid), stopped))
        for node in stopped:
            node.start()
            started.append(node.spec.name)
        self._record.write_text(
            json.dumps(
                {**asdict(c), "state_dir": str(state), "dist_dir": str(c.dist_dir.resolve())},
                indent=2,
            )
        )
        if started:
            self.log(f"started {', '.join(started)}; waiting until they answer ...")
        deadline = time.monotonic() + timeout
        while True:
            statuses = self.status()
            if cancelled is not None and cancelled():
                return statuses
            if all(s.healthy for s in statuses if s.name != "keycloak"):
                if self.keycloak is None:
                    return statuses
                self.keycloak.wait()
                return self.status()
            dead = [s for s in statuses if s.pid is None]
            if dead or time.monotonic() > deadline:
                bad = (dead or [s for s in statuses if not s.healthy])[0]
                why = "exited" if bad.pid is None else f"not ready after {timeout:.0f}s"
                tail = self._log_of(bad.name).strip().splitlines()[-1:] or [""]
                raise StackError(
                    f"{bad.name} {why} (log: {self._log_path(bad.name)}): {tail[0][:200]}"
                )
            time.sleep(0.5)

    def down(self, purge: bool = False) -> list[str]:
        """Stop what we started (registry first, then brokers); purge deletes all data too."""
        stopped = []
        if self.keycloak is not None and self.keycloak.stop():
            stopped.append("keycloak")
        if self.registry.proc.stop():
            stopped.append("registry")
        # The brokers together: stopped one by one, the last KRaft controller has no quorum left
        # to grant its controlled shutdown and waits out the stop timeout to a SIGKILL (30 s and
        # an unclean stop of a three-broker stack); signalled at once they end cleanly in ~5 s.
        brokers = [node for node in reversed(self.kafka) if node.proc.pid() is not None]
        for node in brokers:
            node.proc.terminate()
        for node in brokers:
            if node.proc.stop(signalled=True):
                stopped.append(node.spec.name)
        if purge:
            shutil.rmtree(self.config.state_dir, ignore_errors=True)
        return stopped

    def status(self) -> list[ServiceStatus]:
        """Health, pid, port and address of every service, by real calls."""
        meta = self._kafka_metadata()
        out = []
        for node in self.kafka:
            pid = node.proc.pid()
            in_meta = meta is not None and node.spec.node_id in meta
            detail = (
                f"{len(meta)} broker(s) in metadata" if meta is not None else "metadata call failed"
            )
            out.append(
                ServiceStatus(
                    node.spec.name,
                    pid is not None and in_meta,
                    pid,
                    node.spec.port,
                    node.spec.address,
                    detail if pid else "not running",
                )
            )
        pid = self.registry.proc.pid()
        ok, detail = self._registry_health() if pid else (False, "not running")
        out.append(
            ServiceStatus("registry", ok, pid, self.registry.port, self.registry.url, detail)
        )
        if self.keycloak is not None:
            kc = self.keycloak
            pid = kc.proc.pid()
            ok = pid is not None and kc.ready()
            detail = f"realm {kc.issuer}" if ok else ("starting" if pid else "not running")
            out.append(ServiceStatus("keycloak", ok, pid, kc.port, kc.base_url, detail))
        return out

    def logs(self, service: str | None = None, lines: int = 40) -> dict[str, str]:
        """The tail of each service's log."""
        names = [n.spec.name for n in self.kafka] + ["registry"]
        names += ["keycloak"] if self.keycloak is not None else []
        if service and service not in names:
            raise StackError(f"no service {service!r}; services: {', '.join(names)}")
        return {n: self._log_of(n, lines) for n in names if service in (None, n)}

    # --- checks ------------------------------------------------------------------------------
    def _check_requested_matches_running(self) -> None:
        record = self._record
        if not record.exists():
            return
        saved = json.loads(record.read_text())
        running = self._any_running(self.config)
        if running and saved.get("brokers") != self.requested.brokers:
            raise StackError(
                f"a {saved.get('brokers')}-broker stack is running in {self.config.state_dir}; "
                "run `mpphub stack down` first"
            )

    def _check_formatted_size(self, state: Path) -> None:
        formatted = sorted(p.parent.parent.name for p in state.glob("kafka-*/data/meta.properties"))
        if formatted and len(formatted) != self.config.brokers:
            raise StackError(
                f"{state} holds a {len(formatted)}-broker cluster's data; use another --state-dir "
                "or `mpphub stack down --purge` to start afresh"
            )

    def _check_security_matches_data(self, state: Path) -> None:
        # SCRAM users are made at format time: a plaintext cluster's data cannot turn secure.
        formatted = any(state.glob("kafka-*/data/meta.properties"))
        if formatted and (state / "secure").exists() != self.config.secure:
            was = "secured" if (state / "secure").exists() else "plaintext"
            raise StackError(
                f"{state} holds a {was} cluster's data; use another --state-dir "
                "or `mpphub stack down --purge` to start afresh"
            )

    def _check_ports(self) -> None:
        owners = {n.spec.name: n.proc.pid() for n in self.kafka}
        owners["registry"] = self.registry.proc.pid()
        owners["keycloak"] = self.keycloak.proc.pid() if self.keycloak is not None else None
        flags = {
            "kafka": "--kafka-port",
            "controller": "--controller-port",
            "registry": "--registry-port",
            "keycloak": "--keycloak-port",
        }
        for role, port in self.config.ports().items():
            service = role.split()[0]
            if owners.get(service) is not None:
                continue  # ours, already running: up is idempotent
            if not port_is_free(port):
                kind = "controller" if role.endswith("controller") else service.split("-")[0]
                raise StackError(
                    f"port {port} ({role}) is already in use by another process: stop it or "
                    f"choose another port with {flags[kind]}"
                )

    def _kafka_metadata(self) -> set[int] | None:
        live = [n for n in self.kafka if port_is_listening(n.spec.port)]
        if not live:
            return None
        from kafka import KafkaAdminClient
        from kafka.errors import KafkaError

        options = self.kafka_settings().client_options()
        options["bootstrap_servers"] = [n.spec.address for n in live]
        try:
            admin = KafkaAdminClient(
                **options, request_timeout_ms=3000, client_id="mpphub-stack-status"
            )
        except (KafkaError, OSError, ValueError):
            return None
        try:
            cluster = admin.describe_cluster()
            return {b["broker_id"] for b in cluster["brokers"] if not b.get("is_fenced")}
        except (KafkaError, OSError, ValueError):
            return None
        finally:
            admin.close()

    def _registry_health(self) -> tuple[bool, str]:
        try:
            r = httpx.get(f"{self.registry.url}/subjects", timeout=3, **self.registry_auth())
        except httpx.HTTPError as e:
            return False, f"no answer ({type(e).__name__})"
        if r.status_code != 200:
            return False, f"HTTP {r.status_code}"
        return True, f"{len(r.json())} subject(s)"

    def _log_path(self, name: str) -> Path:
        if name == "registry":
            return self.registry.proc.log_file
        if name == "keycloak" and self.keycloak is not None:
            return self.keycloak.proc.log_file
        node = next(n for n in self.kafka if n.spec.name == name)
        server_log = node.spec.state_dir / "server.log"
        return server_log if server_log.exists() else node.proc.log_file

    def _log_of(self, name: str, lines: int = 40) -> str:
        if name == "registry":
            return self.registry.proc.log_tail(lines)
        if name == "keycloak" and self.keycloak is not None:
            return self.keycloak.proc.log_tail(lines)
        node = next(n for n in self.kafka if n.spec.name == name)
        parts = [node.proc.log_tail(lines)]
        server_log = node.spec.state_dir / "server.log"
        if server_log.exists():
            parts.append("\n".join(server_log.read_text(errors="replace").splitlines()[-lines:]))
        return "\n".join(p for p in parts if p)


def _pid_alive(pid_file: Path) -> bool:
    # The marker of a service is its state directory, where its pid file lives.
    return pid_in_file(pid_file, str(pid_file.parent)) is not None


__all__ += ["wait_for"]
