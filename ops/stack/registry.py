"""Apicurio Registry, serving the Confluent-compatible API under /apis/ccompat/v7."""

from __future__ import annotations

from pathlib import Path

from .cds import JvmArchives
from .dist import Dist, find_java
from .process import ManagedProcess
from .secure import StackSecrets

CCOMPAT_PATH = "/apis/ccompat/v7"


class RegistryNode:
    """One registry process; schemas persist in an H2 file under the state directory, so a
    restarted stack still resolves the schema ids written into Kafka before."""

    def __init__(
        self,
        state_dir: Path,
        port: int,
        dist: Dist,
        heap_mb: int = 384,
        secure: StackSecrets | None = None,
        archives: JvmArchives | None = None,
    ):
        self.state_dir = state_dir
        self.archives = archives
        self.secure = secure
        self.port = port
        self.dist = dist
        self.heap_mb = heap_mb
        self.proc = ManagedProcess("registry", state_dir, marker=str(state_dir))

    @property
    def url(self) -> str:
        scheme = "https" if self.secure is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}{CCOMPAT_PATH}"

    def start(self) -> int:
        """Start the registry JVM; returns its pid."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        db = self.state_dir / "db" / "registry"
        argv = [
            find_java(),
            f"-Xmx{self.heap_mb}m",
            "-XX:+UseSerialGC",
            # The quick compiler only: ready in less time and CPU; the registry answers a few
            # schema lookups (clients cache them), its peak speed does not matter.
            "-XX:TieredStopAtLevel=1",
            *(self.archives.flags("registry") if self.archives is not None else []),
            *self._listen(),
            "-Dquarkus.http.host=127.0.0.1",
            # The marker that tells our process from any other java on the machine.
            f"-Dmpphub.state={self.state_dir}",
            f"-Dapicurio.datasource.url=jdbc:h2:file:{db}",
            "-Dquarkus.log.console.format=%d{HH:mm:ss,SSS} %-5p [%c{2.}] %s%e%n",
            "-jar",
            str(self.dist.registry_jar()),
        ]
        return self.proc.start(argv, cwd=self.dist.registry_home)

    def _listen(self) -> list[str]:
        if self.secure is None:
            return [f"-Dquarkus.http.port={self.port}"]
        # HTTPS only, basic auth: in a 0600 file, so the password is on no command line.
        return [f"-Dquarkus.config.locations={self.secure.write_registry_config(self.port)}"]
