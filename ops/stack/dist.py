"""Fetch the pinned Kafka and Apicurio Registry distributions from Maven Central.

The versions live in ops/stack/pom.xml (one source of truth, read here); the jars land under the
dist directory, once: a second call with everything in place makes no Maven call at all.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

POM = Path(__file__).with_name("pom.xml")
_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


class StackError(RuntimeError):
    """A problem the operator must fix; its message is one line saying what and how."""


@dataclass(frozen=True)
class Versions:
    kafka: str
    apicurio: str


def pinned_versions(pom: Path = POM) -> Versions:
    """Read the pinned Kafka and Apicurio versions from the stack's pom."""
    props = ET.parse(pom).getroot().find("m:properties", _NS)
    if props is None:
        raise StackError(f"{pom}: no <properties> with the pinned versions")

    def prop(name: str) -> str:
        el = props.find(f"m:{name}", _NS)
        if el is None or not (el.text or "").strip():
            raise StackError(f"{pom}: property {name} is missing")
        return el.text.strip()

    return Versions(kafka=prop("kafka.version"), apicurio=prop("apicurio.version"))


def find_java() -> str:
    """Path of a java binary (JAVA_HOME first), or a StackError saying how to get one."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    java = shutil.which("java")
    if not java:
        raise StackError(
            "Java 17+ not found: install it with `apt-get install -y openjdk-17-jre-headless` "
            "(or set JAVA_HOME)"
        )
    return java


def find_mvn() -> str:
    """Path of the mvn binary, or a StackError saying how to get it."""
    mvn = shutil.which("mvn")
    if not mvn:
        raise StackError("Maven not found: install it with `apt-get install -y maven`")
    return mvn


def _run_mvn(args: list[str], what: str) -> None:
    cmd = [find_mvn(), "-B", "-q", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        errors = [ln for ln in proc.stdout.splitlines() if "[ERROR]" in ln]
        first = errors[0].replace("[ERROR]", "").strip() if errors else proc.stderr.strip()[:300]
        raise StackError(f"fetching {what} with Maven failed: {first}")


@dataclass(frozen=True)
class Dist:
    """Where the fetched distributions live."""

    root: Path
    versions: Versions

    @property
    def kafka_libs(self) -> Path:
        return self.root / f"kafka-{self.versions.kafka}" / "libs"

    @property
    def registry_home(self) -> Path:
        return self.root / f"apicurio-registry-{self.versions.apicurio}"

    def registry_jar(self) -> Path:
        """The runnable registry jar: quarkus-run.jar (fast-jar) or the legacy *-runner.jar."""
        fast = self.registry_home / "quarkus-run.jar"
        if fast.exists():
            return fast
        runners = sorted(self.registry_home.glob("*-runner.jar"))
        if not runners:
            raise StackError(f"no runnable jar in {self.registry_home}; delete it and retry")
        return runners[0]

    def ensure(self, log=print) -> None:
        """Fetch what is missing (idempotent; the first run downloads ~230 MB)."""
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.kafka_libs / f"kafka_2.13-{self.versions.kafka}.jar").exists():
            log(f"fetching Apache Kafka {self.versions.kafka} jars from Maven Central ...")
            tmp = self.kafka_libs.with_name("libs.partial")
            shutil.rmtree(tmp, ignore_errors=True)
            _run_mvn(
                ["-f", str(POM), "dependency:copy-dependencies", f"-DoutputDirectory={tmp}"],
                f"Kafka {self.versions.kafka}",
            )
            shutil.rmtree(self.kafka_libs, ignore_errors=True)
            tmp.rename(self.kafka_libs)
        if not (self.registry_home / ".complete").exists():
            self._fetch_registry(log)

    def _fetch_registry(self, log) -> None:
        v = self.versions.apicurio
        log(f"fetching Apicurio Registry {v} from Maven Central ...")
        # Plugin 2.8's `get` tolerates the parent pom that Central does not serve for 3.0.x;
        # the 3.x plugin refuses the artifact for it.
        _run_mvn(
            [
                "org.apache.maven.plugins:maven-dependency-plugin:2.8:get",
                f"-Dartifact=io.apicurio:apicurio-registry-app:{v}:tar.gz:all",
                "-Dtransitive=false",
            ],
            f"Apicurio Registry {v}",
        )
        repo = Path(os.environ.get("MPPHUB_MAVEN_REPO", Path.home() / ".m2" / "repository"))
        tgz = repo / f"io/apicurio/apicurio-registry-app/{v}/apicurio-registry-app-{v}-all.tar.gz"
        if not tgz.exists():
            raise StackError(f"Maven reported success but {tgz} is missing (set MPPHUB_MAVEN_REPO)")
        shutil.rmtree(self.registry_home, ignore_errors=True)
        self.registry_home.mkdir(parents=True)
        with tarfile.open(tgz) as tar:
            tar.extractall(self.registry_home, filter="data")
        (self.registry_home / ".complete").touch()
