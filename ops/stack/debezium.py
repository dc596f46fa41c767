"""Fetch Kafka Connect and Debezium's PostgreSQL connector (ops/stack/debezium.xml) from Maven
Central, once, for `mpphub bench capture`; the Kafka version is the stack's (pom.xml)."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from .dist import _NS, _run_mvn, find_java, pinned_versions

__all__ = ["POM", "debezium_version", "ensure_debezium_libs", "find_java"]

POM = Path(__file__).with_name("debezium.xml")


def debezium_version(pom: Path = POM) -> str:
    """The pinned Debezium version."""
    el = ET.parse(pom).getroot().find("m:properties/m:debezium.version", _NS)
    assert el is not None and el.text, f"{pom}: debezium.version is missing"
    return el.text.strip()


def ensure_debezium_libs(dist_dir: Path, log: Callable[[str], None] = print) -> Path:
    """The directory of Connect's and Debezium's jars, fetched when missing (about 40 MB)."""
    kafka = pinned_versions().kafka
    libs = Path(dist_dir).resolve() / f"debezium-{debezium_version()}-kafka-{kafka}" / "libs"
    if (libs.parent / ".complete").exists():
        return libs
    log(f"fetching Kafka Connect {kafka} and Debezium {debezium_version()} from Maven Central ...")
    tmp = libs.with_name("libs.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    _run_mvn(
        [
            "-f",
            str(POM),
            f"-Dkafka.version={kafka}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={tmp}",
        ],
        f"Debezium {debezium_version()}",
    )
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    (libs.parent / ".complete").touch()
    return libs
