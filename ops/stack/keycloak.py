"""Keycloak (the Quarkus distribution from Maven Central) as the stack's OIDC provider.

`start-dev` on loopback with an in-memory database: every start imports ops/keycloak's realm
through the admin API and gives its demo users the passwords kept in `<state>/users.json`
(0600, made once), so a restart keeps the same logins and nothing secret is in the repo or on a
command line (the bootstrap admin's password reaches Keycloak through its environment).
Keycloak 26.4.7 (ops/stack/pom.xml) is the version tested here on Java 17.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
import xml.etree.ElementTree as ET
import zipfile
from dataclasses import dataclass
from pathlib import Path

import httpx

from .dist import POM, StackError, _run_mvn, find_java
from .process import ManagedProcess

REALM_FILE = Path(__file__).resolve().parent.parent / "keycloak" / "mpphub-realm.json"
REALM = "mpphub"
ADMIN_USER = "mpphub-admin"
AUDIENCE = "mpphub-api"  # what the realm's audience mapper puts in the front office's tokens
CLIENT_ID = "mpphub-frontoffice"
BOOT_TIMEOUT_S = 420.0  # start-dev re-augments on a first start: minutes on two shared cores


def keycloak_version(pom: Path = POM) -> str:
    """The pinned Keycloak version (property keycloak.version of ops/stack/pom.xml)."""
    el = (
        ET.parse(pom)
        .getroot()
        .find("m:properties/m:keycloak.version", {"m": "http://maven.apache.org/POM/4.0.0"})
    )
    if el is None or not (el.text or "").strip():
        raise StackError(f"{pom}: property keycloak.version is missing")
    return el.text.strip()


def keycloak_home(dist_root: Path, version: str | None = None) -> Path:
    """Where the unpacked distribution lives under the dist directory."""
    return dist_root / f"keycloak-{version or keycloak_version()}"


def fetch_keycloak(dist_root: Path, log=print) -> Path:
    """Fetch and unpack the pinned distribution once (~160 MB); its home directory."""
    version = keycloak_version()
    home = keycloak_home(dist_root, version)
    if (home / ".complete").exists():
        return home
    log(f"fetching Keycloak {version} from Maven Central ...")
    _run_mvn(
        [
            "org.apache.maven.plugins:maven-dependency-plugin:2.8:get",
            f"-Dartifact=org.keycloak:keycloak-quarkus-dist:{version}:zip",
            "-Dtransitive=false",
        ],
        f"Keycloak {version}",
    )
    repo = Path(os.environ.get("MPPHUB_MAVEN_REPO", Path.home() / ".m2" / "repository"))
    archive = repo / f"org/keycloak/keycloak-quarkus-dist/{version}"
    archive = archive / f"keycloak-quarkus-dist-{version}.zip"
    if not archive.exists():
        raise StackError(f"Maven reported success but {archive} is missing (set MPPHUB_MAVEN_REPO)")
    partial = home.with_name(home.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with zipfile.ZipFile(archive) as z:
        z.extractall(partial)
    shutil.rmtree(home, ignore_errors=True)
    (partial / f"keycloak-{version}").rename(home)
    shutil.rmtree(partial, ignore_errors=True)
    (home / "bin" / "kc.sh").chmod(0o755)
    (home / ".complete").touch()
    return home


@dataclass(frozen=True)
class DemoUser:
    """A realm user and the password this stack gave it."""

    username: str
    password: str
    role: str
    agency: str | None


class KeycloakNode:
    """One Keycloak process on loopback: `port` for HTTP, `port + 1` for its management
    interface (health)."""

    def __init__(self, state_dir: Path, port: int, dist_root: Path, heap_mb: int = 512):
        self.state_dir = state_dir
        self.port = port
        self.dist_root = dist_root
        self.heap_mb = heap_mb
        self.proc = ManagedProcess("keycloak", state_dir, marker=str(state_dir))

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        """The realm's issuer: what the API's OIDC settings name."""
        return f"{self.base_url}/realms/{REALM}"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    @property
    def ports(self) -> tuple[int, int]:
        return self.port, self.port + 1

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self) -> int:
        """Start Keycloak in the background (answers minutes later: see wait())."""
        find_java()
        home = fetch_keycloak(self.dist_root, log=lambda m: None)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        env = {
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN_USER,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": self._secret("admin-password"),
            "JAVA_OPTS_KC_HEAP": f"-Xms64m -Xmx{self.heap_mb}m",
        }
        argv = [
            "bash",
            str(home / "bin" / "kc.sh"),
            "start-dev",
            f"-Dmpphub.state={self.state_dir}",  # the marker that tells our process apart
            "--db=dev-mem",
            "--http-host=127.0.0.1",
            f"--http-port={self.port}",
            f"--http-management-port={self.port + 1}",
            f"--hostname={self.base_url}",
            "--health-enabled=true",
        ]
        return self.proc.start(argv, cwd=home, env=env)

    def stop(self) -> bool:
        return self.proc.stop()

    def ready(self) -> bool:
        """Whether Keycloak answers and the realm is there."""
        try:
            r = httpx.get(f"{self.issuer}/.well-known/openid-configuration", timeout=3)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    def wait(self, timeout: float = BOOT_TIMEOUT_S) -> None:
        """Until Keycloak's master realm answers, then provision the hub's realm."""
        deadline = time.monotonic() + timeout
        while not self._answers():
            if self.proc.pid() is None:
                raise StackError(f"keycloak exited (log: {self.proc.log_file})")
            if time.monotonic() > deadline:
                raise StackError(f"keycloak not ready after {timeout:.0f}s ({self.proc.log_file})")
            time.sleep(1)
        if not self.ready():
            self.provision()

    def _answers(self) -> bool:
        try:
            r = httpx.get(f"{self.base_url}/realms/master", timeout=3)
        except httpx.HTTPError:
            return False
        return r.status_code == 200

    # --- the realm ---------------------------------------------------------------------------
    def users(self) -> list[DemoUser]:
        """The realm's demo users with their passwords (made on first use, kept 0600)."""
        realm = json.loads(REALM_FILE.read_text())
        path = self.state_dir / "users.json"
        saved = json.loads(path.read_text()) if path.exists() else {}
        out = []
        for u in realm["users"]:
            pw = saved.get(u["username"]) or secrets.token_urlsafe(15)
            saved[u["username"]] = pw
            agency = (u.get("attributes", {}).get("agency") or [None])[0]
            out.append(DemoUser(u["username"], pw, u["realmRoles"][0], agency))
        _write_private(path, json.dumps(saved, indent=2))
        return out

    def admin(self) -> httpx.Client:
        """An httpx client on the admin REST API, as the bootstrap admin."""
        r = httpx.post(
            f"{self.base_url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": ADMIN_USER,
                "password": self._secret("admin-password"),
            },
            timeout=30,
        )
        r.raise_for_status()
        headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
        return httpx.Client(base_url=f"{self.base_url}/admin/realms", headers=headers, timeout=60)

    def provision(self) -> None:
        """Import the realm (roles, clients, mappers), let users carry an `agency` attribute,
        and add the demo users with their passwords and roles."""
        realm = json.loads(REALM_FILE.read_text())
        users = realm.pop("users")
        passwords = {u.username: u.password for u in self.users()}
        with self.admin() as api:
            _ok(api.post("", json=realm), "import the realm")
            profile = api.get(f"/{REALM}/users/profile").json()
            profile["unmanagedAttributePolicy"] = "ENABLED"
            _ok(api.put(f"/{REALM}/users/profile", json=profile), "allow the agency attribute")
            for u in users:
                u = {**u, "enabled": True, "emailVerified": True}
                u["credentials"] = [
                    {"type": "password", "value": passwords[u["username"]], "temporary": False}
                ]
                body = {"ifResourceExists": "OVERWRITE", "users": [u]}
                _ok(api.post(f"/{REALM}/partialImport", json=body), f"add {u['username']}")

    def _secret(self, name: str) -> str:
        path = self.state_dir / name
        if not path.exists():
            self.state_dir.mkdir(parents=True, exist_ok=True)
            _write_private(path, secrets.token_urlsafe(24))
        return path.read_text().strip()


def _ok(r: httpx.Response, what: str) -> None:
    if r.status_code >= 300:
        raise StackError(f"keycloak: could not {what}: HTTP {r.status_code} {r.text[:200]}")


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
