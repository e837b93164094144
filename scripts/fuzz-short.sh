#!/usr/bin/env bash
# Runs each fuzz target for a short time (make fuzz-short). Go's fuzzing
# engine sometimes ends a run with a bare "context deadline exceeded" when a
# worker misses the end of -fuzztime on a loaded machine; that is not a
# finding (a finding prints "Failing input" and writes testdata/fuzz/…), so
# such a run is repeated once. Any other failure fails at once.
set -uo pipefail
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
for t in "$@"; do
    pkg=${t%%:*} name=${t##*:}
    for attempt in 1 2; do
        label=""
        [[ $attempt -eq 2 ]] && label=", again"
        echo "== $pkg $name ($FUZZTIME$label)"
        out=$("$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "./$pkg" 2>&1)
        rc=$?
        printf '%s\n' "$out"
        [[ $rc -eq 0 ]] && break
        if [[ $attempt -eq 1 ]] && grep -q 'context deadline exceeded' <<<"$out" && ! grep -q 'Failing input' <<<"$out"; then
            echo "fuzz-short: $name ended with the engine's deadline error (no failing input); running it once more"
            continue
        fi
        exit "$rc"
    done
done
