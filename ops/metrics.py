"""Serving a process's Prometheus metrics: one endpoint per process, loopback unless told
otherwise (in a container Prometheus scrapes from another host)."""

from __future__ import annotations

import logging

from prometheus_client import start_http_server

log = logging.getLogger(__name__)


def serve_metrics(port: int | None, addr: str = "127.0.0.1") -> None:
    """Start the /metrics endpoint on addr:port (nothing when port is None); a port in use is
    refused with one line naming it and MPPHUB_METRICS_PORT."""
    if port is None:
        return
    try:
        start_http_server(port, addr=addr)
    except OSError as e:
        raise RuntimeError(
            f"metrics port {addr}:{port} (MPPHUB_METRICS_PORT): {e.strerror or e}"
        ) from e
    log.info("metrics on http://%s:%d/metrics", addr, port)
