#!/usr/bin/env bash
# Soak test of the gateway demo against Mosquitto on loopback.
#
# Starts a Mosquitto with a generated config on a free loopback port, runs
# the release `gateway` binary against it (its simulated fleet publishing,
# its consumer receiving) at a sustained rate, samples the gateway's RSS and
# CPU every second, and checks the requirements:
#
#   * at least MIN_RATE frames/s received (default 20,000),
#   * zero lost frames (published by the fleet vs received after dedup),
#   * RSS growth after warm-up at most 10 %.
#
# With SINK=postgres the frames go into a PostgreSQL the script starts
# itself (data directory on tmpfs, WAL on disk in OUT; fsync and
# synchronous_commit on), with SINK=sqlite into a temp file in OUT; then
# also every published frame must be in the database (`lost` 0 and
# `db_frames` == `published`), and Mosquitto gets 2000 messages in flight
# and no queue limit, as in scripts/bench-sink.sh. Without SINK the gateway
# runs with its default sink, as before.
#
# Usage: bash scripts/soak.sh            (60 s, 200 devices x 105 frames/s)
#        SINK=postgres bash scripts/soak.sh
# Tunables (environment): DURATION=60 DEVICES=200 RATE=105 WARMUP=15
#                         MIN_RATE=20000 MAX_RSS_GROWTH_PCT=10 OUT=<dir>
#                         SINK=postgres|sqlite (default: the gateway's default)
#                         GATEWAY_ARGS="<more gateway flags>" (e.g. --no-read-coalescing)
# Needs: mosquitto (Debian package `mosquitto`), jq; with SINK=postgres
# PostgreSQL's server binaries and psql.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-60}"
DEVICES="${DEVICES:-200}"
RATE="${RATE:-105}"
WARMUP="${WARMUP:-15}"
MIN_RATE="${MIN_RATE:-20000}"
MAX_RSS_GROWTH_PCT="${MAX_RSS_GROWTH_PCT:-10}"
OUT="${OUT:-$(mktemp -d -t iot-soak.XXXXXX)}"
SINK="${SINK:-}"
mkdir -p "$OUT"
chmod 755 "$OUT"
# Mosquitto, PostgreSQL and process-sampling helpers.
# shellcheck source=scripts/bench-sink.sh
source scripts/bench-sink.sh

command -v jq >/dev/null || { echo "soak: jq not found (apt-get install jq)" >&2; exit 2; }

echo "==> building the gateway (release)"
cargo build --release -p iot-examples --bin gateway
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
GATEWAY="$TARGET_DIR/release/gateway"

GW_PID=""
PG_PARENT=""
cleanup() {
    [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null || true
    mosquitto_stop
    pg_stop
    [ -n "$PG_PARENT" ] && rm -rf "$PG_PARENT" "$OUT/pg-wal"
    [ "$SINK" = sqlite ] && rm -f "$OUT/gateway.db" "$OUT/gateway.db-wal" "$OUT/gateway.db-shm"
    wait 2>/dev/null || true
}
trap cleanup EXIT

SINK_ARGS=()
case "$SINK" in
    "")
        # No restarts in this test, so no database; see docs/mqtt.md for production.
        mosquitto_start "$OUT" 1000 1000000 ;;
    postgres)
        PG_PARENT="$(mktemp -d /dev/shm/iot-soak-pg.XXXXXX)"
        pg_start "$PG_PARENT" "$OUT/pg-wal"
        echo "==> PostgreSQL on 127.0.0.1:$PG_PORT (data on tmpfs $PG_PARENT, WAL in $OUT/pg-wal)"
        SINK_ARGS=(--sink "$PG_URL")
        mosquitto_start "$OUT" ;;
    sqlite)
        SINK_ARGS=(--sink "sqlite:$OUT/gateway.db")
        mosquitto_start "$OUT" ;;
    *) echo "soak: SINK must be postgres or sqlite" >&2; exit 2 ;;
esac
PORT="$MOSQ_PORT"

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
TOTAL=$(awk "BEGIN { print $DEVICES * $RATE }")
echo "==> soak: $DEVICES devices x $RATE frames/s = $TOTAL frames/s for ${DURATION}s against Mosquitto on 127.0.0.1:$PORT"
echo "    output in $OUT"

"$GATEWAY" --broker "mqtt://127.0.0.1:$PORT" --devices "$DEVICES" --rate "$RATE" \
    --duration "${DURATION}s" --noisy-devices 0 --device-limit 1000000 \
    --progress plain --summary-json "$OUT/summary.json" "${SINK_ARGS[@]}" ${GATEWAY_ARGS:-} >"$OUT/gateway.log" 2>&1 &
GW_PID=$!

# Sample RSS (KiB) and CPU ticks of both processes every second.
ticks() { proc_ticks "$1"; }
echo "t_s,gateway_rss_kib,gateway_cpu_ticks,mosquitto_rss_kib,mosquitto_cpu_ticks" >"$OUT/samples.csv"
t=0
while kill -0 "$GW_PID" 2>/dev/null; do
    rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$GW_PID/status" 2>/dev/null || echo "")
    mrss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$MOSQ_PID/status" 2>/dev/null || echo 0)
    [ -n "$rss" ] && echo "$t,$rss,$(ticks "$GW_PID"),$mrss,$(ticks "$MOSQ_PID")" >>"$OUT/samples.csv"
    sleep 1
    t=$((t + 1))
done
wait "$GW_PID" || { echo "soak: the gateway failed; see $OUT/gateway.log" >&2; tail -20 "$OUT/gateway.log" >&2; exit 1; }
GW_PID=""
MOSQ_CPU_TICKS=$(ticks "$MOSQ_PID")
LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

S="$OUT/summary.json"
fps=$(jq -r .frames_per_second "$S")
published=$(jq -r .published "$S")
received_own=$(jq -r .received_own "$S")
lost=$(jq -r .lost "$S")
duplicates=$(jq -r .duplicates "$S")
run_s=$(jq -r .run_seconds "$S")
cpu_s=$(jq -r .cpu_seconds "$S")
peak_kib=$(jq -r .peak_rss_kib "$S")
p50=$(jq -r .receive_latency.p50_us "$S")
p99=$(jq -r .receive_latency.p99_us "$S")
p999=$(jq -r .receive_latency.p999_us "$S")
max=$(jq -r .receive_latency.max_us "$S")
sp50=$(jq -r .stored_latency.p50_us "$S")
sp99=$(jq -r .stored_latency.p99_us "$S")

# RSS at the end of warm-up versus the largest RSS after it.
read -r rss_warm rss_max_after rss_last < <(awk -F, -v w="$WARMUP" '
    NR > 1 && $1 >= w { if (warm == "") warm = $2; if ($2 > max) max = $2; last = $2 }
    END { print warm + 0, max + 0, last + 0 }' "$OUT/samples.csv")
growth=$(awk -v a="$rss_warm" -v b="$rss_max_after" 'BEGIN { if (a > 0) printf "%.1f", (b - a) * 100 / a; else print "nan" }')
cpu_pct=$(awk -v c="$cpu_s" -v t="$run_s" 'BEGIN { printf "%.0f", c * 100 / t }')
mosq_cpu_pct=$(awk -v c="$MOSQ_CPU_TICKS" -v t="$run_s" 'BEGIN { printf "%.0f", c / t }')

cat <<EOF

soak result ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(uname -m); load average before: $LOAD_BEFORE, after: $LOAD_AFTER)
  command              $GATEWAY --broker mqtt://127.0.0.1:$PORT --devices $DEVICES --rate $RATE --duration ${DURATION}s --noisy-devices 0 --device-limit 1000000 ${SINK_ARGS[*]} ${GATEWAY_ARGS:-}
  frames/s             $fps   (received after dedup / ${run_s}s of publishing)
  published / received $published / $received_own   ($duplicates duplicates suppressed)
  lost                 $lost
  e2e latency          p50 ${p50} us  p99 ${p99} us  p99.9 ${p999} us  max ${max} us   (device send -> gateway)
  to sink              p50 ${sp50} us  p99 ${sp99} us
  gateway CPU          ${cpu_s}s = ${cpu_pct}% of one core (fleet, consumer and pipeline in one process)
  mosquitto CPU        ${mosq_cpu_pct}% of one core
  gateway RSS          peak $((peak_kib / 1024)) MiB; after warm-up (${WARMUP}s) $((rss_warm / 1024)) MiB -> max $((rss_max_after / 1024)) MiB (growth ${growth}%)
EOF

fail=0
awk -v f="$fps" -v m="$MIN_RATE" 'BEGIN { exit !(f >= m) }' || { echo "FAIL: $fps frames/s < $MIN_RATE"; fail=1; }
[ "$lost" = "0" ] || { echo "FAIL: $lost frames lost"; fail=1; }
if [ -n "$SINK" ]; then
    db_frames=$(jq -r '.db_frames // "null"' "$S")
    echo "  in the database      $db_frames frames, $(jq -r '.db_rows // "?"' "$S") rows ($SINK); write failures $(jq -r '.write_failures // "?"' "$S"), held at exit $(jq -r '.held_at_exit // "?"' "$S")"
    [ "$db_frames" = "$published" ] || { echo "FAIL: $db_frames frames in the database, $published published"; fail=1; }
fi
awk -v g="$growth" -v m="$MAX_RSS_GROWTH_PCT" 'BEGIN { exit !(g <= m) }' || { echo "FAIL: RSS grew ${growth}% after warm-up (limit ${MAX_RSS_GROWTH_PCT}%)"; fail=1; }
if [ "$fail" = 0 ]; then echo "PASS"; fi
exit "$fail"
