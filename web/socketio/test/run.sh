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
#   SIO_TEST_SKIP_INSTALL=1 SIO_TEST_CONCURRENCY=N CHROMIUM_BIN=…
#
# The steps themselves are shared with web/test/run.sh: web/testlib/suite.sh.
set -euo pipefail

cd "$(dirname "$0")"
REPO_DIR=$(cd ../../.. && pwd)
source "$REPO_DIR/web/testlib/suite.sh"

suite_chromium web/socketio/test
suite_npm_ci web/socketio/test "${SIO_TEST_SKIP_INSTALL:-}"
suite_brokerd web/socketio/test "$REPO_DIR"
suite_node_test "${SIO_TEST_CONCURRENCY:-1}" "$@"
