#!/usr/bin/env bash
# Runs every brokerload scenario against ioBroker (A, EIO3) and brokerd (B) in
# alternation and the raw WebSocket ceiling, writing JSON to $OUT.
#
#   IOB_URL=http://127.0.0.1:18084 IOB_PIDS=<socketio.0 pid> \
#   BROKERD_URL=http://127.0.0.1:18990 BROKERD_PID=<pid> bash bench/compare.sh
#
# Both servers must already run on loopback; ratios are B/A (brokerd/ioBroker).
set -euo pipefail
cd "$(dirname "$0")/.."

IOB_URL=${IOB_URL:-http://127.0.0.1:18084}
BROKERD_URL=${BROKERD_URL:-http://127.0.0.1:8084}
IOB_PIDS=${IOB_PIDS:-}
BROKERD_PID=${BROKERD_PID:-}
ROUNDS=${ROUNDS:-2}
DUR=${DUR:-10s}
OUT=${OUT:-/tmp/brokerload-results}
mkdir -p "$OUT"

go build -o "$OUT/brokerload" ./cmd/brokerload
BL=("$OUT/brokerload")
CMP=(--url "$IOB_URL" --compare "$BROKERD_URL" --rounds "$ROUNDS" --duration "$DUR")

# idle first: RSS baselines are cleanest before the other scenarios grow the heaps
"${BL[@]}" idle "${CMP[@]}" --conns 2000 --pid "$IOB_PIDS" --pid2 "$BROKERD_PID" --json "$OUT/idle.json"
go run ./bench/rawws -subs 20 -duration "$DUR" -json "$OUT/rawws-20.json"
"${BL[@]}" fanout "${CMP[@]}" --rate 0 --writers 4 --subs 20 --window 64 --json "$OUT/fanout-max.json"
"${BL[@]}" fanout "${CMP[@]}" --rate 1000 --writers 4 --subs 20 --json "$OUT/fanout-1000.json"
"${BL[@]}" fanout "${CMP[@]}" --rate 1000 --writers 4 --subs 20 --pattern exact --json "$OUT/fanout-exact.json"
"${BL[@]}" bulk "${CMP[@]}" --preload 10000 --conns 4 --json "$OUT/bulk.json"
go run ./bench/rawws -subs 100 -duration "$DUR" -json "$OUT/rawws-100.json"
"${BL[@]}" vis "${CMP[@]}" --json "$OUT/vis.json"
