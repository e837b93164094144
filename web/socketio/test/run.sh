#!/usr/bin/env bash
# Browser tests for web/socketio/socket.io.js (brokerd's own socket.io-client API subset): headless
# Debian chromium driven by playwright-core, ioBroker's real example/conn.js (npm iobroker.socketio),
# a Node socket.io-client 4 as peer client and the real brokerd binary.
#
#   web/socketio/test/run.sh                          # builds ./cmd/brokerd and tests it
#   BROKERD_BIN=/tmp/brokerd-sio web/socketio/test/run.sh
#   web/socketio/test/run.sh conn.test.js             # only some files
#   SIO_JS_FROM=disk|brokerd                          # where the pages load socket.io.js from
#                                                     # (default: brokerd when it serves it, else disk)
#   SIO_TEST_CONSOLE=1 SIO_TEST_SERVER_LOG=1          # page console / brokerd output to stderr
set -euo pipefail

cd "$(dirname "$0")"
TEST_DIR=$(pwd)
REPO_DIR=$(cd ../../.. && pwd)

if [[ ! -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]]; then
    echo "web/socketio/test: installing chromium (apt)"
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [[ -z "${SIO_TEST_SKIP_INSTALL:-}" ]]; then
    if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json && node_modules/.package-lock.json -nt package.json ]]; then
        echo "web/socketio/test: node_modules up to date"
    else
        echo "web/socketio/test: npm ci"
        # --ignore-scripts: playwright-core drives /usr/bin/chromium; iobroker.socketio is only read for example/conn.js
        npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    fi
fi

cleanup_dir=""
trap '[[ -n "$cleanup_dir" ]] && rm -rf "$cleanup_dir"' EXIT
if [[ -z "${BROKERD_BIN:-}" ]]; then
    cleanup_dir=$(mktemp -d)
    echo "web/socketio/test: building ./cmd/brokerd"
    (cd "$REPO_DIR" && go build -o "$cleanup_dir/brokerd" ./cmd/brokerd)
    export BROKERD_BIN="$cleanup_dir/brokerd"
fi

if [[ $# -gt 0 ]]; then
    files=("$@")
else
    files=("$TEST_DIR"/*.test.js)
fi

node --test \
    --test-reporter=spec \
    --test-timeout=120000 \
    --test-force-exit \
    --test-concurrency="${SIO_TEST_CONCURRENCY:-1}" \
    "${files[@]}"
