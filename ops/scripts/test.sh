#!/usr/bin/env bash
# The whole suite: unit tests and integration tests against the real Kafka, registry, PostgreSQL
# and MariaDB. Test fixtures start those servers (on test ports, in temporary directories) and
# stop them at the end, so nothing is left running.
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The layer contracts (pyproject.toml [tool.importlinter]): a wrong-way import fails here.
.venv/bin/lint-imports --no-cache
# The slowest tests are listed at the end: the suite has to stay under 25 minutes on 2 cores.
exec .venv/bin/pytest -p no:cacheprovider --durations=30 "$@"
