"""docker-compose.yml and the monitoring files it mounts, checked by parsing (no Docker engine):
every address a service is given must be a service of the file, on a port that service listens on;
every file mounted from the repository must exist.

The hub's services are checked against the code, not against a list kept here: each command runs
through `mpphub` itself with the service's environment and arguments, its last step (the one that
would talk to Kafka or bind a port) replaced by a recorder; the settings and sockets it would have
used are what the scrape targets, healthchecks and replication factors are checked against."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import re
import shlex
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from click.testing import CliRunner
from pydantic import BaseModel

from ops.stack.dist import pinned_versions

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
MONITORING = REPO / "ops" / "monitoring"
CONNECTORS = ("connector-siak", "connector-sicantik")
HUB = (*CONNECTORS, "worker", "api")
NEEDS_POSTGRES = ("worker", "api")
REQUIRED = ("registry", "postgres", "prometheus", "grafana", *HUB)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?]([^}]*))?\}")
_URL = re.compile(r"https?://[^\s'\"]+")
_MPPHUB_NAME = re.compile(r"\bMPPHUB_[A-Z0-9_]*[A-Z0-9]\b")
# A socket bound to one of these is reachable from other containers; loopback only from its own.
ANY_ADDRESS = ("0.0.0.0", "::", "")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
# Where the apache/kafka image keeps the distribution, and the tools of its bin/ that answer only
# when the broker does (a healthcheck must call one of them).
KAFKA_HOME = Path("/opt/kafka")
KAFKA_PROBES = (
    "kafka-broker-api-versions.sh",
    "kafka-cluster.sh",
    "kafka-metadata-quorum.sh",
    "kafka-topics.sh",
)


# --- reading the file -----------------------------------------------------------------------------
def _load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return _load(COMPOSE)


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def _defaults(value: str) -> str:
    """The value as Compose would see it with none of the ${VAR} set (defaults applied)."""
    return _VAR.sub(lambda m: m.group(2) or "", value)


def _env(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def _argv(service: dict[str, Any], key: str = "command") -> list[str]:
    value = service.get(key) or []
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _kafka_nodes(services: dict[str, dict[str, Any]]) -> list[str]:
    return sorted(n for n, s in services.items() if s.get("image", "").startswith("apache/kafka:"))


def _listen_ports(name: str, service: dict[str, Any]) -> set[int]:
    """The TCP ports the service listens on, read from its own environment or command."""
    env, image, argv = _env(service), service.get("image", ""), _argv(service)
    if image.startswith("apache/kafka:"):
        return {int(u.rsplit(":", 1)[1]) for u in env["KAFKA_LISTENERS"].split(",")}
    if image.startswith("apicurio/apicurio-registry:"):
        return {int(env.get("QUARKUS_HTTP_PORT", "8080"))}
    if image.startswith("postgres:"):
        ports = [a.split("=", 1)[1] for a in argv if a.startswith("port=")]
        return {int(ports[-1] if ports else env.get("PGPORT", "5432"))}
    if image.startswith("prom/prometheus:"):
        addr = [a.split("=", 1)[1] for a in argv if a.startswith("--web.listen-address=")]
        return {int((addr[-1] if addr else ":9090").rsplit(":", 1)[1])}
    if image.startswith("grafana/grafana"):
        return {int(env.get("GF_SERVER_HTTP_PORT", "3000"))}
    assert name not in HUB, f"{name}: a hub process's ports come from the `processes` fixture"
    raise AssertionError(f"{name}: no rule for the ports of image {image!r}")


def _advertised(service: dict[str, Any]) -> dict[tuple[str, int], str]:
    """(host, port) -> listener name, from KAFKA_ADVERTISED_LISTENERS."""
    out = {}
    for entry in _env(service)["KAFKA_ADVERTISED_LISTENERS"].split(","):
        listener, _, address = entry.partition("://")
        host, port = address.rsplit(":", 1)
        out[(host, int(port))] = listener
    return out


def _assert_bootstrap(value: str, services: dict[str, dict[str, Any]], where: str) -> None:
    """Each host:port is a Kafka node of the file, on a client listener it advertises as such."""
    addresses = [a.strip() for a in value.split(",") if a.strip()]
    assert addresses, f"{where}: empty bootstrap"
    for address in addresses:
        host, port = address.rsplit(":", 1)
        assert host in _kafka_nodes(services), f"{where}: {host} is not a Kafka service"
        node = services[host]
        listener = _advertised(node).get((host, int(port)))
        assert listener, f"{where}: {host} does not advertise {address}"
        controllers = _env(node)["KAFKA_CONTROLLER_LISTENER_NAMES"].split(",")
        assert listener not in controllers, f"{where}: {address} is a controller listener"
        assert int(port) in _listen_ports(host, node), f"{where}: {host} listens not on {port}"
    assert set(h.rsplit(":", 1)[0] for h in addresses) == set(_kafka_nodes(services)), (
        f"{where}: bootstrap should name every broker, so one node down does not matter"
    )


def _mounts(service: dict[str, Any]) -> list[tuple[str, str]]:
    """(source, target) of each volume entry, short or long syntax."""
    out = []
    for vol in service.get("volumes") or []:
        if isinstance(vol, dict):
            out.append((str(vol["source"]), str(vol["target"])))
        else:
            source, target = vol.split(":")[:2]
            out.append((source, target))
    return out


def _is_path(source: str) -> bool:
    return source.startswith((".", "/", "~", "$"))


def _mount_source_for(service: dict[str, Any], target: str) -> Path | None:
    """The repository path mounted at ``target`` (or at a directory above it), if any."""
    for source, mounted in _mounts(service):
        if _is_path(source) and (target == mounted or target.startswith(mounted.rstrip("/") + "/")):
            return (REPO / source / Path(target).relative_to(mounted)).resolve()
    return None


# --- the hub's processes, as `mpphub` would start them -------------------------------------------
@dataclass(frozen=True)
class Process:
    """What a hub service's command makes of the file: the settings `mpphub` builds from the
    service's environment and arguments, and the sockets the process would listen on."""

    command: str
    settings: tuple[BaseModel, ...]  # as handed to the stages (connector, streams, projections)
    listens: dict[int, str]  # port -> the address it binds
    http_port: int | None = None  # the API's port: its routes (metrics ports answer any path)

    def settings_of(self, kind: type) -> Any:
        return next(s for s in self.settings if isinstance(s, kind))


def _cli_env(service: dict[str, Any]) -> dict[str, str | None]:
    """The service's environment, ${VAR} defaults applied; this test's own MPPHUB_* unset."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("MPPHUB_")}
    env.update({k: _defaults(v) for k, v in _env(service).items()})
    return env


def _start(name: str, service: dict[str, Any]) -> Process:
    """Run the service's command through the real CLI, with the steps that would reach Kafka,
    the database or a port replaced by recorders; what they were handed."""
    from ops.cli import main

    argv, got = _argv(service), {"settings": []}

    def record_metrics(port: int | None, addr: str, registry: Any = None) -> None:
        got["metrics"] = (port, addr)

    class Connector:
        def __init__(self, config: BaseModel, progress: bool) -> None:
            got["settings"].append(config)

        async def run(self, stop: Any) -> None:
            return None

    def run_worker(settings: BaseModel, tokens: Any, extra: Any = (), **_: Any) -> int:
        got["settings"].append(settings)
        for register in extra:
            register(None)
        return 0

    def run_api(settings: Any) -> None:
        got["settings"].append(settings)
        got["http"] = (settings.port, settings.host)

    with pytest.MonkeyPatch.context() as mp:
        if argv[0] == "connect":  # the config file as mounted, read from the repository
            argv = [argv[0], str(_mount_source_for(service, argv[1])), *argv[2:]]
            mp.setattr("connectors.runner.Connector", Connector)
            mp.setattr("ops.connect.serve_metrics", record_metrics)
        mp.setattr("ops.worker.hub_tokens", lambda hub: None)  # the secret: checked apart
        mp.setattr("ops.worker.check_projection_secret", lambda hub, db_url=None: None)
        mp.setattr("ops.worker.serve_metrics", record_metrics)
        mp.setattr("ops.metrics.serve_metrics", record_metrics)  # `mpphub api` imports it late
        mp.setattr("streams.app.run_worker", run_worker)
        mp.setattr("projections.agent.register_projection", lambda app, s: run_worker(s, None))
        # `--projections process`: the child process is handed the same projection settings.
        mp.setattr("ops.stage_process.start", lambda h, *_: got["settings"].append(h.projection))
        mp.setattr("projections.api.run_api", run_api)
        # `mpphub worker` installs uvloop's policy for its process (ops/worker.py use_uvloop):
        # left in place it put every later test of the session on uvloop, where closing a TLS
        # consumer with a fetch in flight waits out a 30 s SSL shutdown timeout
        # (MagicStack/uvloop#471; tests/ops/test_secure_stack.py lost 30 s to it).
        policy = asyncio.get_event_loop_policy()
        try:
            result = CliRunner().invoke(main, argv, env=_cli_env(service))
        finally:
            asyncio.set_event_loop_policy(policy)
    assert result.exit_code == 0, f"{name}: mpphub {shlex.join(argv)}: {result.output}"
    assert got["settings"], f"{name}: `mpphub {argv[0]}` reached none of the recorded steps"
    listens = {}
    if got.get("metrics", (None,))[0] is not None:
        listens[got["metrics"][0]] = got["metrics"][1]
    http_port = got.get("http", (None,))[0]
    if http_port is not None:
        listens[http_port] = got["http"][1]
    return Process(argv[0], tuple(got["settings"]), listens, http_port)


@pytest.fixture(scope="module")
def processes(services: dict[str, dict[str, Any]]) -> dict[str, Process]:
    return {name: _start(name, services[name]) for name in HUB}


@pytest.fixture(scope="module")
def api_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The front-office API over an empty SQLite database: which paths it answers."""
    from fastapi.testclient import TestClient

    from projections.api import create_api
    from projections.settings import ApiSettings

    class NoCommands:
        async def close(self) -> None:
            return None

    tmp = tmp_path_factory.mktemp("api")
    (tmp / "secret").write_bytes(b"compose-test-secret-0123456789ab")
    settings = ApiSettings(
        db_url=f"sqlite:///{tmp / 'projections.db'}",
        audit_db_url=f"sqlite:///{tmp / 'audit.db'}",
        secret_file=tmp / "secret",
        audit_head_interval_s=0,
    )
    with TestClient(create_api(settings, commands=NoCommands())) as c:
        yield c


def _answers(process: Process, port: int, path: str, api_client: Any) -> bool:
    """Whether the process answers GET `path` on `port` with 200 (no redirect): the API by its
    routes; a metrics endpoint (prometheus_client) answers every path."""
    if port != process.http_port:
        return True
    return api_client.get(path or "/", follow_redirects=False).status_code == 200


def _names_in(source: str) -> set[str]:
    return set(_MPPHUB_NAME.findall(source))


def _variables_the_code_reads() -> set[str]:
    """ops/settings.py ENV_VARS, and every MPPHUB_* name ops/ and ops/stack/ use."""
    from ops.settings import ENV_VARS

    files = [*(REPO / "ops").glob("*.py"), *(REPO / "ops" / "stack").glob("*.py")]
    return set(ENV_VARS) | {n for f in files for n in _names_in(f.read_text())}


def _variables_read_by(command: str) -> set[str]:
    """What `mpphub <command>` reads: the names its own code uses, and the ENV_VARS routed into
    the parts of HubSettings (`hub.<part>`) that the command hands on."""
    from ops import cli, connect, worker
    from ops.settings import ENV_VARS

    own = inspect.getsource(cli._Group) + inspect.getsource(getattr(cli, command).callback)
    if command == "connect":
        own += inspect.getsource(connect)
    user = {"worker": worker.run, "api": cli.api.callback}.get(command)
    parts = set(re.findall(r"\bhub\.(\w+)", inspect.getsource(user))) if user else set()
    routed = {v for v, paths in ENV_VARS.items() if any(p.split(".")[0] in parts for p in paths)}
    return _names_in(own) | routed


def _replication_factors(settings: BaseModel, where: str) -> dict[str, int]:
    """Every replication_factor in a settings object, nested models included, by its path."""
    out = {}
    for field in type(settings).model_fields:
        value, path = getattr(settings, field), f"{where}.{field}"
        if field == "replication_factor":
            out[path] = value
        elif isinstance(value, BaseModel):
            out.update(_replication_factors(value, path))
    return out


def _secret_names(service: dict[str, Any]) -> dict[str, str]:
    """Path in the container -> the top-level secret mounted there."""
    out = {}
    for entry in service.get("secrets") or []:
        source = entry if isinstance(entry, str) else entry["source"]
        target = source if isinstance(entry, str) else entry.get("target", source)
        out[str(Path("/run/secrets") / target)] = source
    return out


# --- services and their wiring --------------------------------------------------------------------
def test_every_required_service_is_present(services: dict[str, dict[str, Any]]) -> None:
    missing = [name for name in REQUIRED if name not in services]
    assert not missing, f"docker-compose.yml lacks {missing}"
    nodes = _kafka_nodes(services)
    assert nodes, "no apache/kafka service"
    assert all(re.fullmatch(r"kafka(-\d+)?", n) for n in nodes), nodes


def test_kafka_nodes_form_one_kraft_cluster(services: dict[str, dict[str, Any]]) -> None:
    nodes = _kafka_nodes(services)
    envs = {n: _env(services[n]) for n in nodes}
    assert len({e["CLUSTER_ID"] for e in envs.values()}) == 1
    assert len({e["KAFKA_NODE_ID"] for e in envs.values()}) == len(nodes)
    voters = set()
    for name, env in envs.items():
        assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}, name
        controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
        port = next(u for u in env["KAFKA_LISTENERS"].split(",") if u.startswith(controller))
        voters.add(f"{env['KAFKA_NODE_ID']}@{name}:{port.rsplit(':', 1)[1]}")
        assert {h for h, _ in _advertised(services[name])} == {name}, "advertise the service name"
        assert services[name]["image"] == f"apache/kafka:{pinned_versions().kafka}"
    for env in envs.values():
        assert set(env["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")) == voters
    if len(nodes) >= 3:
        assert all(int(e["KAFKA_MIN_INSYNC_REPLICAS"]) >= 2 for e in envs.values())


def test_registry_is_the_pinned_apicurio_on_kafka_or_postgres(
    services: dict[str, dict[str, Any]],
) -> None:
    registry = services["registry"]
    assert registry["image"] == f"apicurio/apicurio-registry:{pinned_versions().apicurio}"
    env = _env(registry)
    if env["APICURIO_STORAGE_KIND"] == "kafkasql":
        _assert_bootstrap(env["APICURIO_KAFKASQL_BOOTSTRAP_SERVERS"], services, "registry")
    else:
        assert env["APICURIO_STORAGE_KIND"] == "sql"
        jdbc = urlsplit(env["APICURIO_DATASOURCE_URL"].removeprefix("jdbc:"))
        assert services[jdbc.hostname]["image"].startswith("postgres:")
        assert jdbc.port in _listen_ports(jdbc.hostname, services[jdbc.hostname])


def test_every_service_has_a_healthcheck(services: dict[str, dict[str, Any]]) -> None:
    for name, service in services.items():
        check = service.get("healthcheck") or {}
        test = check.get("test")
        assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, name
        assert not check.get("disable"), name


def test_hub_services_wait_for_healthy_kafka_registry_and_postgres(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in HUB:
        deps = services[name].get("depends_on")
        assert isinstance(deps, dict), f"{name}: depends_on needs conditions (a mapping)"
        wanted = [*_kafka_nodes(services), "registry"]
        if name in NEEDS_POSTGRES:
            wanted.append("postgres")
        for dep in wanted:
            assert (deps.get(dep) or {}).get("condition") == "service_healthy", f"{name} -> {dep}"


def test_dependencies_exist_are_healthchecked_and_acyclic(
    services: dict[str, dict[str, Any]],
) -> None:
    graph = {}
    for name, service in services.items():
        deps = service.get("depends_on") or {}
        graph[name] = list(deps)
        for dep, how in deps.items() if isinstance(deps, dict) else []:
            assert dep in services, f"{name} depends on unknown {dep}"
            if (how or {}).get("condition") == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits on {dep}'s healthcheck"

    def visit(node: str, path: tuple[str, ...]) -> None:
        assert node not in path, f"dependency cycle {' -> '.join((*path, node))}"
        for dep in graph.get(node, []):
            visit(dep, (*path, node))

    for name in services:
        visit(name, ())


def test_hub_kafka_bootstrap_names_broker_listeners(services: dict[str, dict[str, Any]]) -> None:
    for name in HUB:
        _assert_bootstrap(_env(services[name])["MPPHUB_KAFKA_BOOTSTRAP"], services, name)


def test_hub_registry_url_is_the_registry_ccompat_api(services: dict[str, dict[str, Any]]) -> None:
    for name in HUB:
        url = urlsplit(_env(services[name])["MPPHUB_REGISTRY_URL"])
        assert url.scheme == "http" and url.hostname in services, name
        target = services[url.hostname]
        assert target["image"].startswith("apicurio/apicurio-registry:"), name
        assert url.port in _listen_ports(url.hostname, target), name
        assert url.path == "/apis/ccompat/v7", name


def test_projection_db_url_is_the_postgres_service(services: dict[str, dict[str, Any]]) -> None:
    postgres_env = _env(services["postgres"])
    for name in NEEDS_POSTGRES:
        raw = _env(services[name])["MPPHUB_PROJECTION_DB_URL"]
        url = urlsplit(_defaults(raw))
        assert url.scheme == "postgresql+psycopg", name
        assert services[url.hostname]["image"].startswith("postgres:"), name
        assert url.port in _listen_ports(url.hostname, services[url.hostname]), name
        assert url.username == postgres_env["POSTGRES_USER"], name
        assert url.path.lstrip("/") == postgres_env["POSTGRES_DB"], name
        # The same variable (and dev default) as the server's own password.
        assert f":{postgres_env['POSTGRES_PASSWORD']}@" in raw, name


def test_no_password_is_written_inline(services: dict[str, dict[str, Any]]) -> None:
    checked = 0
    for name, service in services.items():
        for key, value in _env(service).items():
            secrets = []
            if re.search(r"PASSWORD|SECRET|TOKEN", key) and not key.endswith("_FILE"):
                secrets.append(value)
            secrets += re.findall(r"://[^/:@\s]+:(.+?)@", value)
            for secret in secrets:
                checked += 1
                m = _VAR.fullmatch(secret)
                assert m, f"{name}.{key}: a password must come from ${{VAR}}, not inline"
                assert m.group(2) is None or "dev" in m.group(2), (
                    f"{name}.{key}: a default password must be marked as a dev default"
                )
    assert checked >= 3  # postgres, grafana, and the hub's database URLs


def test_files_mounted_from_the_repository_exist(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for source, _target in _mounts(service):
            if not _is_path(source):
                assert source in declared, f"{name}: volume {source} is not declared"
            elif "${" not in source:  # a ${VAR} path is the operator's, not the repository's
                assert (REPO / source).exists(), f"{name}: {source} does not exist"
        if "build" in service:
            context = REPO / service["build"]["context"]
            assert (context / service["build"].get("dockerfile", "Dockerfile")).is_file(), name
    for secret, spec in (compose.get("secrets") or {}).items():
        if "${" not in spec.get("file", "${"):
            assert (REPO / spec["file"]).exists(), f"secret {secret}: {spec['file']} missing"


def test_stateful_services_keep_data_in_named_volumes(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    data_dirs = {
        **{n: "/var/lib/kafka/data" for n in _kafka_nodes(services)},
        "postgres": "/var/lib/postgresql/data",
        "prometheus": "/prometheus",
        "grafana": "/var/lib/grafana",
    }
    for name, target in data_dirs.items():
        named = [s for s, t in _mounts(services[name]) if t == target and not _is_path(s)]
        assert named and named[0] in (compose.get("volumes") or {}), f"{name}: {target}"
    for node in _kafka_nodes(services):
        assert _env(services[node])["KAFKA_LOG_DIRS"] == data_dirs[node]


def test_connector_configs_agree_with_their_services(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    from connectors.config import load_config

    for name in ("connector-siak", "connector-sicantik"):
        service, env = services[name], _env(services[name])
        argv = _argv(service)
        assert argv[0] == "connect" and len(argv) == 2, name
        source = _mount_source_for(service, argv[1])
        assert source is not None and source.is_file(), f"{name}: {argv[1]} is not mounted"
        config = load_config(source)
        assert config.kafka.bootstrap == env["MPPHUB_KAFKA_BOOTSTRAP"], name
        assert config.registry.url == env["MPPHUB_REGISTRY_URL"], name
        assert config.metrics_port == int(env["MPPHUB_METRICS_PORT"]), name
        if config.source.url_file is not None:
            secret = config.source.url_file.name
            assert str(config.source.url_file) == f"/run/secrets/{secret}", name
            assert secret in (service.get("secrets") or []), f"{name} lacks secret {secret}"
            assert secret in (compose.get("secrets") or {}), f"secret {secret} undeclared"
        else:
            assert "${" in (config.source.url or ""), f"{name}: credentials inline in {source}"


def test_dockerfile_installs_the_hub_packages_and_runs_mpphub(
    services: dict[str, dict[str, Any]],
) -> None:
    text = (REPO / "Dockerfile").read_text()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    assert lines[0] == "FROM python:3.11-slim"
    assert any(re.match(r"RUN pip install \.( |$)", ln) for ln in lines)
    assert 'ENTRYPOINT ["mpphub"]' in lines
    copied = set()
    for ln in lines:
        if ln.startswith("COPY "):
            *sources, _dest = ln.split()[1:]
            for src in sources:
                assert (REPO / src).exists(), f"Dockerfile copies missing {src}"
                copied.add(src)
    pyproject = (REPO / "pyproject.toml").read_text()
    packages = re.search(r"include = \[([^\]]*)\]", pyproject).group(1)
    for pkg in re.findall(r'"(\w+)\*"', packages):
        assert pkg in copied, f"Dockerfile does not copy package {pkg}"
    for name in HUB:
        assert _argv(services[name])[0] in ("connect", "worker", "api"), name


# --- the hub's services against the code ----------------------------------------------------------
def test_hub_variables_are_ones_the_code_reads(services: dict[str, dict[str, Any]]) -> None:
    known = _variables_the_code_reads()
    for name, service in services.items():
        unknown = sorted(k for k in _env(service) if k.startswith("MPPHUB_") and k not in known)
        assert not unknown, f"{name}: no hub code reads {unknown}"


def test_each_hub_service_sets_only_what_its_command_reads(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in HUB:
        command, env = _argv(services[name])[0], _env(services[name])
        assert all(k.startswith("MPPHUB_") for k in env), f"{name}: the hub reads MPPHUB_* only"
        unread = sorted(set(env) - _variables_read_by(command))
        assert not unread, f"{name}: `mpphub {command}` does not read {unread}"


def test_replication_factors_cover_the_brokers_min_insync_replicas(
    services: dict[str, dict[str, Any]], processes: dict[str, Process]
) -> None:
    """acks=all needs min.insync.replicas replicas in sync: a topic with fewer replicas refuses
    every write; one with more than there are brokers cannot be created."""
    nodes = _kafka_nodes(services)
    envs = {n: _env(services[n]) for n in nodes}
    min_isr = max(int(e["KAFKA_MIN_INSYNC_REPLICAS"]) for e in envs.values())
    factors = {}
    for node, env in envs.items():
        for key in (
            "KAFKA_DEFAULT_REPLICATION_FACTOR",  # topics created without one (the registry's)
            "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
            "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        ):
            factors[f"{node}: {key}"] = int(env[key])
    for name, process in processes.items():
        for settings in process.settings:
            factors.update(_replication_factors(settings, f"{name}: {type(settings).__name__}"))
    assert sum(name in f for f in factors for name in ("connector-", "worker")) >= 4
    for where, factor in factors.items():
        assert min_isr <= factor <= len(nodes), (
            f"{where} = {factor}: needs min.insync.replicas ({min_isr}) to {len(nodes)} (brokers)"
        )


def test_published_ports_are_ones_the_services_listen_on(
    services: dict[str, dict[str, Any]], processes: dict[str, Process]
) -> None:
    for name, service in services.items():
        for entry in service.get("ports") or []:
            container = int(str(entry).split(":")[-1].split("/")[0])
            if name in HUB:
                listens = processes[name].listens
                assert container in listens, f"{name}: publishes {container}, listens {listens}"
                addr = listens[container]
                assert addr in ANY_ADDRESS, f"{name}: {container} is bound to {addr} only"
            else:
                assert container in _listen_ports(name, service), f"{name}: {entry}"


def test_healthchecks_call_real_endpoints(
    services: dict[str, dict[str, Any]], processes: dict[str, Process], api_client: Any
) -> None:
    for name, service in services.items():
        command = " ".join(str(a) for a in service["healthcheck"]["test"][1:])
        if name in _kafka_nodes(services):
            _assert_kafka_probe(name, service, command)
            continue
        argv = shlex.split(command)
        if argv[0] == "pg_isready":
            assert int(argv[argv.index("-p") + 1]) in _listen_ports(name, service), name
            continue
        urls = [urlsplit(u) for u in _URL.findall(command)]
        assert urls, f"{name}: the healthcheck calls no endpoint: {command}"
        for url in urls:
            assert url.hostname in LOOPBACK, f"{name}: a healthcheck runs in its own container"
            if name not in HUB:
                assert url.port in _listen_ports(name, service), f"{name}: {url.geturl()}"
                continue
            process = processes[name]
            addr = process.listens.get(url.port)
            assert addr in (*ANY_ADDRESS, *LOOPBACK), f"{name}: nothing on {url.port}: {command}"
            assert _answers(process, url.port, url.path, api_client), f"{name}: {url.geturl()}"


def _assert_kafka_probe(name: str, service: dict[str, Any], command: str) -> None:
    """One of Kafka's own tools, from the image's distribution, on a client listener."""
    argv = shlex.split(command)
    tool = Path(argv[0])
    assert tool.parent == KAFKA_HOME / "bin" and tool.name in KAFKA_PROBES, f"{name}: {tool}"
    host, port = argv[argv.index("--bootstrap-server") + 1].rsplit(":", 1)
    assert host in (*LOOPBACK, name), f"{name}: the probe asks {host}"
    env = _env(service)
    controllers = env["KAFKA_CONTROLLER_LISTENER_NAMES"].split(",")
    clients = [
        int(u.rsplit(":", 1)[1])
        for u in env["KAFKA_LISTENERS"].split(",")
        if u.split("://")[0] not in controllers
    ]
    assert int(port) in clients, f"{name}: the probe's port {port} is no client listener"


def test_worker_reads_the_hub_secret_from_a_docker_secret(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], processes: dict[str, Process]
) -> None:
    from projections.settings import ProjectionSettings
    from streams.settings import StreamSettings

    path = str(processes["worker"].settings_of(StreamSettings).secret_file)
    secret = _secret_names(services["worker"]).get(path)
    assert secret, f"worker: the hub's secret {path} is not a docker secret of the service"
    # Its projections key their PostgreSQL join locks under the same secret.
    assert str(processes["worker"].settings_of(ProjectionSettings).secret_file) == path
    assert "file" in (compose.get("secrets") or {}).get(secret, {}), f"secret {secret}"


def test_worker_keeps_its_data_dir_in_a_named_volume(
    compose: dict[str, Any], services: dict[str, dict[str, Any]], processes: dict[str, Process]
) -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    workdir = Path(re.findall(r"^WORKDIR\s+(\S+)", dockerfile, re.MULTILINE)[-1])
    named = [
        Path(target)
        for source, target in _mounts(services["worker"])
        if not _is_path(source) and source in (compose.get("volumes") or {})
    ]
    for settings in processes["worker"].settings:
        data_dir = workdir / settings.data_dir  # a relative one is under the image's WORKDIR
        assert any(v == data_dir or v in data_dir.parents for v in named), (
            f"worker: {type(settings).__name__}.data_dir {data_dir} is in no named volume"
        )


def test_connectors_write_the_raw_topics_the_worker_reads(processes: dict[str, Process]) -> None:
    from connectors.config import ConnectorConfig
    from streams.settings import StreamSettings

    raw = processes["worker"].settings_of(StreamSettings).raw_topics
    for name in CONNECTORS:
        config = processes[name].settings_of(ConnectorConfig)
        unread = [config.topic(t.name) for t in config.tables if config.topic(t.name) not in raw]
        assert not unread, f"{name}: the worker reads none of {unread}"


def test_compose_connectors_capture_the_sample_agencies_tables(
    processes: dict[str, Process],
) -> None:
    """The compose configs, the demo's and the sample databases name the same tables (the death
    registrations CAPIL_MATI included), timestamp columns and keys."""
    from connectors.config import ConnectorConfig
    from ops import demo
    from ops.samples import siak, sicantik

    samples = {
        siak.AGENCY: (siak.TABLES, demo.SIAK_TABLES),
        sicantik.AGENCY: (sicantik.TABLES, demo.SICANTIK_TABLES),
    }
    for name in CONNECTORS:
        config = processes[name].settings_of(ConnectorConfig)
        tables, demo_tables = samples[config.agency]
        names = sorted(t.name for t in config.tables)
        assert names == sorted(t.name for t in tables) == sorted(t["name"] for t in demo_tables)
        for table in config.tables:
            sample = next(t for t in tables if t.name == table.name)
            if table.key is not None:
                assert table.key == [c.name for c in sample.primary_key.columns], table.name
            if config.source.mode == "polling":
                in_demo = next(t for t in demo_tables if t["name"] == table.name)
                assert table.timestamp_column == in_demo["timestamp_column"], table.name


def test_the_image_installs_every_data_file_of_the_packages() -> None:
    """The image installs with `pip install .` and drops the sources: a file the packages read
    beside their modules must be package data."""
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    data = setuptools.get("package-data", {})
    covered = {
        f.resolve()
        for package, patterns in data.items()
        for pattern in patterns
        for f in (REPO / package.replace(".", "/")).glob(pattern)
    }
    tops = [p.rstrip("*") for p in setuptools["packages"]["find"]["include"]]
    missing = sorted(
        str(f.relative_to(REPO))
        for top in tops
        for init in (REPO / top).rglob("__init__.py")
        for f in init.parent.iterdir()
        if f.is_file() and f.suffix not in (".py", ".pyc") and f.resolve() not in covered
    )
    assert not missing, f"not installed in the image: {missing}"


# --- Prometheus -----------------------------------------------------------------------------------
def test_prometheus_loads_the_repository_config_and_rules(
    services: dict[str, dict[str, Any]],
) -> None:
    prometheus = services["prometheus"]
    config_path = next(
        a.split("=", 1)[1] for a in _argv(prometheus) if a.startswith("--config.file=")
    )
    assert _mount_source_for(prometheus, config_path) == MONITORING / "prometheus.yml"
    for rule_file in _load(MONITORING / "prometheus.yml")["rule_files"]:
        in_container = str(Path(config_path).parent / rule_file)
        assert _mount_source_for(prometheus, in_container) == MONITORING / rule_file


def test_prometheus_scrapes_compose_services_on_their_ports(
    services: dict[str, dict[str, Any]], processes: dict[str, Process], api_client: Any
) -> None:
    scraped = set()
    for job in _load(MONITORING / "prometheus.yml")["scrape_configs"]:
        path = job.get("metrics_path", "/metrics")
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                assert host in services, f"job {job['job_name']}: {host} is not a service"
                scraped.add((host, job["job_name"]))
                if host not in HUB:
                    assert int(port) in _listen_ports(host, services[host]), f"{target}"
                    continue
                process = processes[host]
                addr = process.listens.get(int(port))
                assert addr is not None, f"{target}: `mpphub {process.command}` listens on " + (
                    f"{sorted(process.listens)}"
                )
                assert addr in ANY_ADDRESS, f"{target}: bound to {addr}, not reachable"
                assert _answers(process, int(port), path, api_client), f"{target}{path}: no 200"
    for name in HUB:
        jobs = [j for h, j in scraped if h == name]
        assert jobs and all(j.startswith("mpphub-") for j in jobs), f"{name} is not scraped"


def test_alert_rules_are_complete() -> None:
    groups = _load(MONITORING / "alerts.yml")["groups"]
    rules = [rule for group in groups for rule in group["rules"]]
    assert rules
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "alert names must be unique"
    for rule in rules:
        name = rule["alert"]
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]+", name), name
        assert isinstance(rule["expr"], str) and rule["expr"].strip(), name
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        assert rule["annotations"]["summary"].strip(), name
        assert re.fullmatch(r"\d+[smhd]", str(rule.get("for", "0s"))), name
    exprs = " ".join(rule["expr"] for rule in rules)
    for metric in (
        "mpphub_connector_errors_total",
        "mpphub_connector_paused_tables",
        "mpphub_connector_source_lag_seconds",
    ):
        assert metric in exprs, f"no rule on {metric}"


def test_the_down_alert_covers_every_hub_scrape_job() -> None:
    rules = [r for g in _load(MONITORING / "alerts.yml")["groups"] for r in g["rules"]]
    down = [r["expr"] for r in rules if re.match(r"up\{.*\}\s*==\s*0$", r["expr"].strip())]
    assert down, "no `up == 0` rule"
    pattern = re.search(r'job=~"([^"]+)"', down[0]).group(1)
    jobs = [j["job_name"] for j in _load(MONITORING / "prometheus.yml")["scrape_configs"]]
    hub_jobs = [j for j in jobs if j.startswith("mpphub-")]
    assert hub_jobs and all(re.fullmatch(pattern, j) for j in hub_jobs)


def test_alert_metrics_are_ones_the_hub_exports() -> None:
    sources = "\n".join(
        p.read_text()
        for top in ("connectors", "streams", "projections", "schemas", "eventlog", "domain", "ops")
        for p in (REPO / top).rglob("*.py")
    )
    rules = [r for g in _load(MONITORING / "alerts.yml")["groups"] for r in g["rules"]]
    metrics = {m for r in rules for m in re.findall(r"\bmpphub_\w+", r["expr"])}
    assert metrics
    # A histogram is defined by its base name; its series add _bucket, _sum and _count.
    base = {m: re.sub(r"_(bucket|sum|count)$", "", m) for m in metrics}
    unknown = sorted(
        m for m in metrics if f'"{m}"' not in sources and f'"{base[m]}"' not in sources
    )
    assert not unknown, f"alerts.yml uses metrics no hub module defines: {unknown}"


# --- Grafana --------------------------------------------------------------------------------------
def test_grafana_provisions_the_prometheus_service_and_the_dashboards(
    services: dict[str, dict[str, Any]],
) -> None:
    grafana = services["grafana"]
    provisioning = MONITORING / "grafana" / "provisioning"
    assert _mount_source_for(grafana, "/etc/grafana/provisioning") == provisioning
    datasources = _load(provisioning / "datasources" / "prometheus.yml")["datasources"]
    url = urlsplit(datasources[0]["url"])
    assert services[url.hostname]["image"].startswith("prom/prometheus:")
    assert url.port in _listen_ports(url.hostname, services[url.hostname])
    uids = {d["uid"] for d in datasources}

    providers = _load(provisioning / "dashboards" / "hub.yml")["providers"]
    dashboards = []
    for provider in providers:
        source = _mount_source_for(grafana, provider["options"]["path"])
        assert source is not None and source.is_dir(), f"{provider['options']['path']} unmounted"
        dashboards += [json.loads(p.read_text()) for p in sorted(source.glob("*.json"))]
    assert dashboards, "no dashboard JSON is provisioned"
    for dashboard in dashboards:
        for panel in dashboard["panels"]:
            assert panel["datasource"]["uid"] in uids, f"{dashboard['title']}: {panel['title']}"
