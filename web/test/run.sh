#!/usr/bin/env bash
# Browser tests for web/ (conn.js and the dashboard): headless Debian chromium driven by
# playwright-core, a Node socket.io-client 4 as "another client", the real brokerd binary.
#
#   web/test/run.sh                              # builds ./cmd/brokerd and tests it
#   BROKERD_BIN=/tmp/brokerd web/test/run.sh     # tests that binary (one instance per test file)
#   WEB_TEST_SERVER=mock web/test/run.sh         # against the Node stand-in (lib/mockserver.js)
#   WEB_TEST_FRONT=1 web/test/run.sh             # brokerd behind a front serving web/ from disk
#   web/test/run.sh conn.test.js                 # only some files
#   WEB_TEST_CONSOLE=1 WEB_TEST_SERVER_LOG=1     # page console / brokerd output to stderr
#   WEB_TEST_SKIP_INSTALL=1 WEB_TEST_CONCURRENCY=N CHROMIUM_BIN=…
#
# Screenshots go to <repo>/screenshots/ (git-ignored). Exit status is non-zero when a test fails.
# The steps themselves are shared with web/socketio/test/run.sh: web/testlib/suite.sh.
set -euo pipefail

cd "$(dirname "$0")"
REPO_DIR=$(cd ../.. && pwd)
source "$REPO_DIR/web/testlib/suite.sh"

suite_chromium web/test
suite_npm_ci web/test "${WEB_TEST_SKIP_INSTALL:-}"

# --- server under test ---
if [[ "${WEB_TEST_SERVER:-}" == "mock" ]]; then
    echo "web/test: server = Node mock (lib/mockserver.js)"
else
    suite_brokerd web/test "$REPO_DIR"
    echo "web/test: server = $BROKERD_BIN${WEB_TEST_FRONT:+ (web files served from disk by lib/front.js)}"
fi

suite_node_test "${WEB_TEST_CONCURRENCY:-1}" "$@"
