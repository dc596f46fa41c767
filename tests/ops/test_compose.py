"""docker-compose.yml and the monitoring files it mounts, checked by parsing (no Docker engine):
every address a service is given must be a service of the file, on a port that service listens on;
every file mounted from the repository must exist."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from ops.stack.dist import pinned_versions

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
MONITORING = REPO / "ops" / "monitoring"
HUB = ("connector-siak", "connector-sicantik", "worker", "api")
NEEDS_POSTGRES = ("worker", "api")
REQUIRED = ("registry", "postgres", "prometheus", "grafana", *HUB)
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-?]([^}]*))?\}")


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
    if name in HUB:
        keys = ("MPPHUB_METRICS_PORT", "MPPHUB_API_PORT")
        return {int(_defaults(env[k])) for k in keys if k in env}
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
    services: dict[str, dict[str, Any]],
) -> None:
    scraped = set()
    for job in _load(MONITORING / "prometheus.yml")["scrape_configs"]:
        for static in job["static_configs"]:
            for target in static["targets"]:
                host, port = target.rsplit(":", 1)
                assert host in services, f"job {job['job_name']}: {host} is not a service"
                assert int(port) in _listen_ports(host, services[host]), f"{target} not listened"
                scraped.add((host, job["job_name"]))
    for name in HUB:
        port = int(_env(services[name])["MPPHUB_METRICS_PORT"])
        jobs = [j for h, j in scraped if h == name]
        assert jobs and all(j.startswith("mpphub-") for j in jobs), f"{name} is not scraped"
        assert port in _listen_ports(name, services[name])


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
