"""The secrets of a secured stack (`stack up --secure`): a CA, one loopback server certificate for
the brokers and the registry, SCRAM-SHA-512 users, and the files a client needs.

Everything is made once, by openssl, under <state>/secure/ (secret files mode 0600) and reused by
later `up`s, so a restarted stack keeps the credentials its clients hold.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from eventlog.settings import KafkaSettings

from .dist import StackError

HUB_USER = "hub"
BROKER_USER = "broker"
MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class StackSecrets:
    """Paths of the secured stack's files; `make` fills them."""

    dir: Path

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def server_cert(self) -> Path:
        return self.dir / "server.pem"

    @property
    def server_key(self) -> Path:
        return self.dir / "server.key"

    @property
    def keystore(self) -> Path:
        return self.dir / "server.p12"

    @property
    def keystore_password(self) -> Path:
        return self.dir / "keystore.password"

    @property
    def hub_password(self) -> Path:
        return self.dir / "hub.password"

    @property
    def broker_password(self) -> Path:
        return self.dir / "broker.password"

    @property
    def registry_password(self) -> Path:
        return self.dir / "registry.password"

    @property
    def registry_config(self) -> Path:
        return self.dir / "registry.properties"

    @property
    def client_env(self) -> Path:
        return self.dir / "client.env"

    def make(self) -> None:
        """Create whatever is missing: CA, server certificate, keystore, passwords."""
        self.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.dir, 0o700)
        for path in (
            self.keystore_password,
            self.hub_password,
            self.broker_password,
            self.registry_password,
        ):
            if not path.exists():
                _write_secret(path, secrets.token_urlsafe(24))
        if not self.keystore.exists():
            self._certificates()

    def _certificates(self) -> None:
        if shutil.which("openssl") is None:
            raise StackError("--secure needs openssl: sudo apt-get install -y openssl")
        d = self.dir
        ca_key = d / "ca.key"
        # openssl's arguments in option/value pairs read better than one per line.
        # fmt: off
        _openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "825",
            "-subj", "/CN=mpphub local CA", "-keyout", str(ca_key), "-out", str(self.ca),
        )
        csr = d / "server.csr"
        _openssl(
            "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", str(self.server_key), "-out", str(csr),
        )
        ext = d / "server.ext"
        ext.write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        _openssl(
            "x509", "-req", "-in", str(csr), "-CA", str(self.ca), "-CAkey", str(ca_key),
            "-CAcreateserial", "-days", "825", "-extfile", str(ext), "-out", str(self.server_cert),
        )
        _openssl(
            "pkcs12", "-export", "-in", str(self.server_cert), "-inkey", str(self.server_key),
            "-certfile", str(self.ca), "-name", "server", "-out", str(self.keystore),
            "-passout", f"file:{self.keystore_password}",
        )
        # fmt: on
        for path in (ca_key, self.server_key, self.keystore):
            os.chmod(path, 0o600)
        csr.unlink()
        ext.unlink()

    def scram_args(self) -> list[str]:
        """`kafka-storage format` arguments that create the SCRAM users at format time."""
        return [
            arg
            for user, pw in ((BROKER_USER, self.broker_password), (HUB_USER, self.hub_password))
            for arg in (
                "--add-scram",
                f"{MECHANISM}=[name={user},password={pw.read_text().strip()}]",
            )
        ]

    def client_settings(self, bootstrap: str) -> KafkaSettings:
        """The hub user's Kafka client settings for this stack."""
        return KafkaSettings(
            bootstrap=bootstrap,
            security_protocol="SASL_SSL",
            sasl_mechanism=MECHANISM,
            sasl_username=HUB_USER,
            sasl_password_file=self.hub_password,
            ssl_cafile=self.ca,
        )

    def write_client_env(self, bootstrap: str, registry_url: str) -> Path:
        """The MPPHUB_* variables that point a hub process at this stack; returns the file."""
        lines = {
            "MPPHUB_KAFKA_BOOTSTRAP": bootstrap,
            "MPPHUB_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "MPPHUB_KAFKA_SASL_MECHANISM": MECHANISM,
            "MPPHUB_KAFKA_SASL_USERNAME": HUB_USER,
            "MPPHUB_KAFKA_SASL_PASSWORD_FILE": self.hub_password,
            "MPPHUB_KAFKA_SSL_CAFILE": self.ca,
            "MPPHUB_REGISTRY_URL": registry_url,
            "MPPHUB_REGISTRY_USERNAME": HUB_USER,
            "MPPHUB_REGISTRY_PASSWORD_FILE": self.registry_password,
            "MPPHUB_REGISTRY_CAFILE": self.ca,
        }
        self.client_env.write_text("".join(f"export {k}={v}\n" for k, v in lines.items()))
        return self.client_env

    def broker_properties(self) -> dict[str, str]:
        """The SASL_SSL settings of a broker's client and inter-broker listener."""
        pw = self.broker_password.read_text().strip()
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required"
            f' username="{BROKER_USER}" password="{pw}";'
        )
        return {
            "sasl.enabled.mechanisms": MECHANISM,
            "sasl.mechanism.inter.broker.protocol": MECHANISM,
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config": jaas,
            "ssl.keystore.type": "PKCS12",
            "ssl.keystore.location": str(self.keystore),
            "ssl.keystore.password": self.keystore_password.read_text().strip(),
            "ssl.truststore.type": "PEM",
            "ssl.truststore.location": str(self.ca),
            "ssl.endpoint.identification.algorithm": "https",
        }

    def write_registry_config(self, port: int) -> Path:
        """Quarkus settings for the registry: HTTPS only, HTTP basic auth against one embedded
        user, every path authenticated. Kept in a 0600 file so no password is on a command line."""
        pw = self.registry_password.read_text().strip()
        props = {
            "quarkus.http.ssl-port": port,
            "quarkus.http.insecure-requests": "disabled",
            "quarkus.http.ssl.certificate.files": self.server_cert,
            "quarkus.http.ssl.certificate.key-files": self.server_key,
            "quarkus.http.auth.basic": "true",
            "quarkus.security.users.embedded.plain-text": "true",
            f"quarkus.security.users.embedded.users.{HUB_USER}": pw,
            "quarkus.http.auth.permission.all.paths": "/*",
            "quarkus.http.auth.permission.all.policy": "authenticated",
        }
        _write_secret(self.registry_config, "".join(f"{k}={v}\n" for k, v in props.items()))
        return self.registry_config


def _write_secret(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text if text.endswith("\n") else text + "\n")
    os.chmod(path, 0o600)


def _openssl(*args: str) -> None:
    out = subprocess.run(["openssl", *args], capture_output=True, text=True)
    if out.returncode != 0:
        tail = (out.stderr or out.stdout).strip().splitlines()
        raise StackError(f"openssl {args[0]} failed: {tail[-1] if tail else out.returncode}")
