#!/usr/bin/env bash
# End-to-end suite: install the pinned test clients, then run every test file with node's test runner.
#
#   e2e/run.sh                                  # builds ./cmd/brokerd (if present) and tests it
#   BROKERD_BIN=/path/to/brokerd e2e/run.sh      # tests that binary (one instance per test file)
#   BROKERD_URL=http://127.0.0.1:8084 e2e/run.sh # tests an already running server
#   BROKERD_URL=http://127.0.0.1:18084 E2E_REFERENCE=1 e2e/run.sh   # the real ioBroker reference
#   e2e/run.sh test/files.test.js               # only some files
#
# Exit status is non-zero when a test fails.
set -euo pipefail

cd "$(dirname "$0")"
E2E_DIR=$(pwd)
REPO_DIR=$(cd .. && pwd)

# --- dependencies (node_modules is never committed) ---
if [[ -z "${E2E_SKIP_INSTALL:-}" ]]; then
    if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json && node_modules/.package-lock.json -nt package.json ]]; then
        echo "e2e: node_modules up to date"
    else
        echo "e2e: npm ci"
        # --ignore-scripts: nothing here needs an install script (iobroker.socketio is only read for example/conn.js)
        npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    fi
fi

# --- server under test ---
cleanup_dir=""
if [[ -z "${BROKERD_BIN:-}" && -z "${BROKERD_URL:-}" ]]; then
    if compgen -G "$REPO_DIR/cmd/brokerd/*.go" >/dev/null; then
        cleanup_dir=$(mktemp -d)
        echo "e2e: building ./cmd/brokerd"
        (cd "$REPO_DIR" && go build -o "$cleanup_dir/brokerd" ./cmd/brokerd)
        export BROKERD_BIN="$cleanup_dir/brokerd"
    else
        echo "e2e: no BROKERD_BIN/BROKERD_URL and no ./cmd/brokerd to build" >&2
        exit 2
    fi
fi
trap '[[ -n "$cleanup_dir" ]] && rm -rf "$cleanup_dir"' EXIT

if [[ -n "${BROKERD_BIN:-}" ]]; then
    echo "e2e: server = $BROKERD_BIN (spawned per test file)"
else
    echo "e2e: server = $BROKERD_URL${E2E_REFERENCE:+ (ioBroker reference mode)}"
fi

if [[ $# -gt 0 ]]; then
    files=("$@")
else
    files=("$E2E_DIR"/test/*.test.js)
fi

# Every await in the tests has its own short timeout; --test-timeout is only a last safety net.
node --test \
    --test-reporter=spec \
    --test-timeout=120000 \
    --test-force-exit \
    --test-concurrency="${E2E_CONCURRENCY:-1}" \
    "${files[@]}"
