#!/usr/bin/env bash
# Browser tests for web/ (conn.js and the dashboard): headless Debian chromium driven by
# playwright-core, a Node socket.io-client 4 as "another client", the real brokerd binary.
#
#   web/test/run.sh                              # builds ./cmd/brokerd and tests it
#   BROKERD_BIN=/tmp/brokerd web/test/run.sh     # tests that binary (one instance per test file)
#   WEB_TEST_SERVER=mock web/test/run.sh         # against the Node stand-in (lib/mockserver.js)
#   WEB_TEST_FRONT=1 web/test/run.sh             # brokerd behind a front serving web/ from disk
#   web/test/run.sh conn.test.js                 # only some files
#
# Screenshots go to <repo>/screenshots/ (git-ignored). Exit status is non-zero when a test fails.
set -euo pipefail

cd "$(dirname "$0")"
TEST_DIR=$(pwd)
REPO_DIR=$(cd ../.. && pwd)

# --- browser: Debian's chromium (playwright's own browser downloads are not used) ---
if [[ ! -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]]; then
    echo "web/test: installing chromium (apt)"
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

# --- npm dependencies (node_modules is never committed) ---
if [[ -z "${WEB_TEST_SKIP_INSTALL:-}" ]]; then
    if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json && node_modules/.package-lock.json -nt package.json ]]; then
        echo "web/test: node_modules up to date"
    else
        echo "web/test: npm ci"
        # --ignore-scripts: playwright-core needs no install script (it drives /usr/bin/chromium)
        npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    fi
fi

# --- server under test ---
cleanup_dir=""
trap '[[ -n "$cleanup_dir" ]] && rm -rf "$cleanup_dir"' EXIT
if [[ "${WEB_TEST_SERVER:-}" == "mock" ]]; then
    echo "web/test: server = Node mock (lib/mockserver.js)"
else
    if [[ -z "${BROKERD_BIN:-}" ]]; then
        cleanup_dir=$(mktemp -d)
        echo "web/test: building ./cmd/brokerd"
        (cd "$REPO_DIR" && go build -o "$cleanup_dir/brokerd" ./cmd/brokerd)
        export BROKERD_BIN="$cleanup_dir/brokerd"
    fi
    echo "web/test: server = $BROKERD_BIN${WEB_TEST_FRONT:+ (web files served from disk by lib/front.js)}"
fi

if [[ $# -gt 0 ]]; then
    files=("$@")
else
    files=("$TEST_DIR"/*.test.js)
fi

# Every wait in the tests has its own short timeout; --test-timeout is only a safety net.
node --test \
    --test-reporter=spec \
    --test-timeout=120000 \
    --test-force-exit \
    --test-concurrency="${WEB_TEST_CONCURRENCY:-1}" \
    "${files[@]}"
