#!/usr/bin/env bash
# Installs what the test suite needs on a fresh Debian machine: Node packages
# for the end-to-end clients (never committed) and, when missing, Debian
# packages for browser and plain-WebSocket tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v node >/dev/null || need_apt+=(nodejs npm)
command -v docker-compose >/dev/null || need_apt+=(docker-compose)   # validates docker-compose.yml (no engine runs here)
/usr/bin/python3 -c 'import websockets' 2>/dev/null || need_apt+=(python3-websockets)   # plain-WebSocket client tests
if [ ${#need_apt[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
    else
        echo "missing Debian packages: ${need_apt[*]} (run as root or install them)" >&2; exit 1
    fi
fi
if [ -f e2e/package.json ]; then
    (cd e2e && if [ -f package-lock.json ]; then npm ci --no-audit --no-fund --loglevel=error; else npm install --no-audit --no-fund --loglevel=error; fi)
fi
