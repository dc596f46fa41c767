#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine (Python 3.11+): system packages, the virtualenv
# with pinned packages, and the Kafka/registry jars from Maven Central.
#   ops/scripts/setup.sh          what the demo needs
#   ops/scripts/setup.sh --test   also what the tests need (PostgreSQL, MariaDB, test packages)
# As root, missing system packages are installed with apt-get; otherwise it stops with one line
# saying what to install.
set -euo pipefail
cd "$(dirname "$0")/../.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

die() { echo "setup: $*" >&2; exit 1; }

missing=()
command -v java >/dev/null 2>&1 || [ -x "${JAVA_HOME:-/nonexistent}/bin/java" ] || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
if [ "$want_test" = 1 ]; then
  ls /usr/lib/postgresql/15/bin/initdb >/dev/null 2>&1 || missing+=(postgresql-15)
  [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
  # The secured stack's CA and certificates (tests/ops/test_secure_stack.py).
  command -v openssl >/dev/null 2>&1 || missing+=(openssl)
  # The browser tests (tests/browser/) drive Debian's chromium through Playwright.
  [ -x /usr/bin/chromium ] || missing+=(chromium)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${missing[*]} with apt-get ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    # Debian's packages would start their servers; the hub starts its own on loopback.
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
      || die "apt-get install ${missing[*]} failed"
  else
    die "missing ${missing[*]}: install with \`sudo apt-get install -y ${missing[*]}\`"
  fi
fi

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python 3.11+ is needed (found $(python3 --version 2>&1))"

extras=""; [ "$want_test" = 1 ] && extras="[test]"
stamp=".venv/.installed${extras}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv || die "python3 -m venv failed: install python3-venv"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing pinned Python packages into .venv ..." >&2
  .venv/bin/pip install -q --disable-pip-version-check --upgrade "pip==26.3" >/dev/null
  .venv/bin/pip install -q --disable-pip-version-check -e ".${extras}" \
    || die "pip install failed (see above)"
  touch "$stamp"
fi

.venv/bin/mpphub stack fetch
