"""Serving a process's Prometheus metrics: one endpoint per process, loopback unless told
otherwise (in a container Prometheus scrapes from another host); a worker's endpoint also
serves the metrics of its stages in child processes (Merged)."""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from prometheus_client import REGISTRY, generate_latest, start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

log = logging.getLogger(__name__)


class Collector(Protocol):
    def collect(self) -> Iterable[Metric]: ...


class Merged:
    """This process's metrics and its children's (ops/stage_process.py) as one registry for
    /metrics. A family both state (e.g. the dead letters: normalize's here, identity's in a
    child) is served once, its samples merged; a sample both state is summed: each process
    counts its own share of a counter or a histogram, and a gauge is set by the one process
    that owns it while the other states its initial 0. A `_created` time is the earliest."""

    def __init__(self, registry: Any = REGISTRY):
        self.registry = registry
        self.children: list[Collector] = []

    def add(self, child: Collector) -> None:
        self.children.append(child)

    def collect(self) -> Iterator[Metric]:
        children = tuple(self.children)
        if not children:
            yield from self.registry.collect()
            return
        # Our own families in the form the children's come in (parsed text: a counter's
        # `_created` is a family of its own there), so that equal names meet.
        own = text_string_to_metric_families(generate_latest(self.registry).decode())
        families: dict[str, Metric] = {}
        samples: dict[str, dict[tuple, Sample]] = {}
        for family in itertools.chain(own, *(c.collect() for c in children)):
            if family.name not in families:
                families[family.name] = Metric(family.name, family.documentation, family.type)
                samples[family.name] = {}
            into = samples[family.name]
            for s in family.samples:
                key = (s.name, tuple(sorted(s.labels.items())))
                seen = into.get(key)
                if seen is None:
                    into[key] = s
                elif family.name.endswith("_created"):
                    into[key] = seen._replace(value=min(seen.value, s.value))
                else:
                    into[key] = seen._replace(value=seen.value + s.value)
        for name, family in families.items():
            family.samples = list(samples[name].values())
            yield family

    def restricted_registry(self, names: Iterable[str]) -> Collector:
        """What `/metrics?name[]=...` serves (prometheus_client asks the registry for it): the
        merged samples of those names only."""
        return _Only(self, frozenset(names))


class _Only:
    def __init__(self, merged: Merged, names: frozenset[str]):
        self.merged = merged
        self.names = names

    def collect(self) -> Iterator[Metric]:
        for family in self.merged.collect():
            kept = [s for s in family.samples if s.name in self.names]
            if kept:
                only = Metric(family.name, family.documentation, family.type)
                only.samples = kept
                yield only


def serve_metrics(port: int | None, addr: str = "127.0.0.1", registry: Any = REGISTRY) -> None:
    """Start the /metrics endpoint on addr:port serving `registry` (nothing when port is None);
    a port in use is refused with one line naming it and MPPHUB_METRICS_PORT."""
    if port is None:
        return
    try:
        start_http_server(port, addr=addr, registry=registry)
    except OSError as e:
        raise RuntimeError(
            f"metrics port {addr}:{port} (MPPHUB_METRICS_PORT): {e.strerror or e}"
        ) from e
    log.info("metrics on http://%s:%d/metrics", addr, port)
