# Shell steps shared by the browser suites' run.sh (web/test/, web/socketio/test/); sourced, not run.
# Each step takes the suite's name for its messages ("web/test", …) first. The caller has cd'ed into
# its test folder (package.json, node_modules, *.test.js) and set -euo pipefail.

# suite_chromium NAME: Debian's chromium (apt) when ${CHROMIUM_BIN:-/usr/bin/chromium} is missing;
# playwright's own browser downloads are not used.
suite_chromium() {
    [[ -x "${CHROMIUM_BIN:-/usr/bin/chromium}" ]] && return 0
    echo "$1: installing chromium (apt)"
    local sudo=""
    [[ $(id -u) -ne 0 ]] && sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
}

# suite_npm_ci NAME SKIP: npm ci unless node_modules is newer than package.json and package-lock.json
# (node_modules is never committed); nothing when SKIP is non-empty.
suite_npm_ci() {
    [[ -n "$2" ]] && return 0
    if [[ -f node_modules/.package-lock.json && node_modules/.package-lock.json -nt package-lock.json && node_modules/.package-lock.json -nt package.json ]]; then
        echo "$1: node_modules up to date"
    else
        echo "$1: npm ci"
        # --ignore-scripts: no install script is needed (playwright-core drives Debian's chromium; the
        # other packages are only read or used from Node)
        npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
    fi
}

# suite_brokerd NAME REPO_DIR: exports BROKERD_BIN, building ./cmd/brokerd into a temp dir (removed on
# exit) when it is not set.
suite_brokerd() {
    [[ -n "${BROKERD_BIN:-}" ]] && return 0
    suite_build_dir=$(mktemp -d)
    trap 'rm -rf "$suite_build_dir"' EXIT
    echo "$1: building ./cmd/brokerd"
    (cd "$2" && go build -o "$suite_build_dir/brokerd" ./cmd/brokerd)
    export BROKERD_BIN="$suite_build_dir/brokerd"
}

# suite_node_test CONCURRENCY [FILE…]: node's test runner on the given files, else on every *.test.js here.
# Every wait in the tests has its own short timeout; --test-timeout is only a safety net.
suite_node_test() {
    local concurrency=$1
    shift
    local files=("$@")
    [[ $# -gt 0 ]] || files=("$(pwd)"/*.test.js)
    node --test \
        --test-reporter=spec \
        --test-timeout=120000 \
        --test-force-exit \
        --test-concurrency="$concurrency" \
        "${files[@]}"
}
