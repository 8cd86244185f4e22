#!/usr/bin/env bash
# End-to-end benchmark of the gateway into a database (issue #14):
#
#   simulated devices -> Mosquitto (loopback) -> gateway (release) -> PostgreSQL / SQLite
#
# For each sink it runs the batched default (--batch-frames 1000) and the
# unbatched baseline (--batch-frames 1) interleaved, ROUNDS times
# (A B A B ...: load drift on a shared machine hits both alike), each
# DURATION seconds at DEVICES x RATE frames/s offered, and reports per run:
# frames/s stored (db_frames / run_seconds), gateway CPU seconds per 1,000
# stored frames (cpu_seconds covers the whole gateway process: the
# simulated fleet, the consumer, the pipeline, and SQLite itself), the
# database server's CPU (PostgreSQL), lost frames (must be 0) and the load
# average. Then, as the physical limit, the database's own bulk-load rate for
# the rows the last batched run stored (PostgreSQL: server-side
# `COPY readings FROM` a CSV of them; SQLite: one transaction
# `INSERT INTO readings SELECT * FROM` them into a fresh file), and, if a
# batched run missed the offered rate, what the gateway sustains: the
# highest rate of SUSTAIN_RATES (per device) with 0 lost and stored >= 95 %
# of offered, each SUSTAIN_DURATION seconds.
#
# Where the data lives: SQLite files and PostgreSQL's WAL are on the disk
# (OUT, default a temp dir), so every commit pays a real fsync;
# PostgreSQL's data directory (tables, indexes) is on tmpfs (/dev/shm)
# because a 60 s run at 20,000 frames/s writes ~10 M rows (~2 GB with the
# index) per run. Each run starts with a fresh Mosquitto and an empty table.
#
# Usage: bash scripts/bench-sink.sh
# Tunables (environment): DURATION=60 DEVICES=200 RATE=100 ROUNDS=2
#   SINKS="postgres sqlite" BATCHES="1000 1" (FRAMES or FRAMES/IN_FLIGHT,
#   e.g. "1000/2 1000/1" compares --batches-in-flight, or
#   FRAMES/IN_FLIGHT/WRITE: "1000/2/copy" for --pg-write copy) MEMORY_REFERENCE=1 (a --sink
#   memory run per round: the gateway's cost without a database)
#   SUSTAIN_RATES="25 15 10 5" SUSTAIN_DURATION=30 OUT=<dir> GATEWAY_ARGS=...
#   BUILD=0 (use the gateway binary already built) MOSQ_INFLIGHT=2000
#   (Mosquitto max_inflight_messages per client: caps the unacknowledged
#   frames, so batches x in-flight above it wait for the broker)
# Needs: mosquitto, jq, sqlite3, PostgreSQL server binaries
# (/usr/lib/postgresql/*/bin or PG_BIN_DIR) and psql.
#
# Sourced (`source scripts/bench-sink.sh`), it only defines its functions
# (scripts/soak.sh uses them to start Mosquitto and PostgreSQL).

# ---------------------------------------------------------------- helpers

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

free_port() {
    local candidate
    for _ in $(seq 1 50); do
        candidate=$((20000 + RANDOM % 40000))
        if port_free "$candidate"; then echo "$candidate"; return 0; fi
    done
    echo "no free port" >&2
    return 1
}

wait_listening() { # port seconds
    local i
    for i in $(seq 1 $(($2 * 20))); do
        port_free "$1" || return 0
        sleep 0.05
    done
    return 1
}

# mosquitto_start DIR [MAX_INFLIGHT] [MAX_QUEUED]: a Mosquitto on a free
# loopback port; sets MOSQ_PORT and MOSQ_PID. Defaults for the database
# runs: 2000 in flight (its default of 20 would cap a batch), no queue limit.
mosquitto_start() {
    local dir="$1" inflight="${2:-2000}" queued="${3:-0}"
    local mosquitto
    mosquitto="$(command -v mosquitto || echo /usr/sbin/mosquitto)"
    [ -x "$mosquitto" ] || { echo "mosquitto not found (apt-get install mosquitto)" >&2; return 2; }
    local attempt
    for attempt in 1 2 3 4 5; do # a random free port can be taken before Mosquitto binds it
        MOSQ_PORT="$(free_port)"
        cat >"$dir/mosquitto.conf" <<EOF
listener $MOSQ_PORT 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages $inflight
max_queued_messages $queued
max_packet_size 262144
set_tcp_nodelay true
log_dest stderr
log_type error
log_type warning
EOF
        "$mosquitto" -c "$dir/mosquitto.conf" 2>>"$dir/mosquitto.log" &
        MOSQ_PID=$!
        if wait_listening "$MOSQ_PORT" 5 && kill -0 "$MOSQ_PID" 2>/dev/null; then return 0; fi
        mosquitto_stop
    done
    echo "mosquitto did not start (see $dir/mosquitto.log)" >&2
    return 2
}

mosquitto_stop() {
    if [ -n "${MOSQ_PID:-}" ]; then
        kill "$MOSQ_PID" 2>/dev/null || true
        wait "$MOSQ_PID" 2>/dev/null || true
        MOSQ_PID=""
    fi
}

# CPU ticks (user + system) of a process, and of its reaped children.
proc_ticks() { awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[12] + f[13] }' "/proc/$1/stat" 2>/dev/null || echo 0; }
proc_ticks_all() { awk '{ sub(/.*\) /, ""); split($0, f, " "); print f[12] + f[13] + f[14] + f[15] }' "/proc/$1/stat" 2>/dev/null || echo 0; }

pg_bin_dir() {
    if [ -n "${PG_BIN_DIR:-}" ]; then echo "$PG_BIN_DIR"; return; fi
    find /usr/lib/postgresql -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -1 | xargs -r dirname
}

# Runs a PostgreSQL tool as the `postgres` user when root (PostgreSQL
# refuses to run as root), else as ourselves.
pg_as() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DATA_PARENT WAL_DIR: initdb (trust, user iot) and start a
# server on a free loopback port with PostgreSQL's default durability
# (fsync on, synchronous_commit on). Sets PG_PORT, PG_URL, PG_DATA, PG_BIN,
# PG_PID.
pg_start() {
    local parent="$1" waldir="$2"
    PG_BIN="$(pg_bin_dir)"
    [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || { echo "PostgreSQL not found (apt-get install postgresql, or PG_BIN_DIR)" >&2; return 2; }
    command -v psql >/dev/null || { echo "psql not found (apt-get install postgresql-client)" >&2; return 2; }
    mkdir -p "$parent" "$waldir"
    [ "$(id -u)" = 0 ] && chown postgres: "$parent" "$waldir"
    PG_DATA="$parent/data"
    pg_as "$PG_BIN/initdb" -D "$PG_DATA" --waldir "$waldir/pg_wal" -U iot -A trust -E UTF8 --no-locale --no-sync >"$parent/initdb.log" 2>&1 \
        || { cat "$parent/initdb.log" >&2; return 2; }
    PG_PORT="$(free_port)"
    pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$parent/postgres.log" -w -t 30 \
        -o "-p $PG_PORT -k $parent -c listen_addresses=127.0.0.1 -c max_connections=30 ${PG_SETTINGS:-}" start >/dev/null \
        || { cat "$parent/postgres.log" >&2; return 2; }
    PG_PID="$(head -1 "$PG_DATA/postmaster.pid")"
    PG_URL="postgres://iot@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
}

pg_stop() {
    if [ -n "${PG_DATA:-}" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
        pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -m immediate -w stop >/dev/null 2>&1 || true
    fi
}

psql_q() { psql -X -q -v ON_ERROR_STOP=1 -At "$PG_URL" "$@"; }

# CPU ticks of the PostgreSQL server: the postmaster with its reaped
# children (exited backends) plus the living children.
pg_ticks() {
    local total child
    total=$(proc_ticks_all "$PG_PID")
    for child in $(pgrep -P "$PG_PID" 2>/dev/null); do
        total=$((total + $(proc_ticks "$child")))
    done
    echo "$total"
}

load1() { cut -d' ' -f1 /proc/loadavg; }

# Stop here when sourced.
if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then return 0; fi

# ---------------------------------------------------------------- main

set -euo pipefail
cd "$(dirname "$0")/.."

DURATION="${DURATION:-60}"
DEVICES="${DEVICES:-200}"
RATE="${RATE:-100}"
ROUNDS="${ROUNDS:-2}"
SINKS="${SINKS:-postgres sqlite}"
BATCHES="${BATCHES:-1000 1}"
MEMORY_REFERENCE="${MEMORY_REFERENCE:-1}"
SUSTAIN_RATES="${SUSTAIN_RATES-25 15 10 5}"
SUSTAIN_DURATION="${SUSTAIN_DURATION:-30}"
OUT="${OUT:-$(mktemp -d -t iot-bench-sink.XXXXXX)}"
mkdir -p "$OUT"
chmod 755 "$OUT"
HZ=$(getconf CLK_TCK)

for tool in jq sqlite3 psql; do
    command -v "$tool" >/dev/null || { echo "bench-sink: $tool not found" >&2; exit 2; }
done

if [ "${BUILD:-1}" = 1 ]; then
    echo "==> building the gateway (release) at $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- examples iot-core iot-resilience || echo ' + uncommitted changes')"
    cargo build --release -p iot-examples --bin gateway
fi
GATEWAY="$(realpath "${CARGO_TARGET_DIR:-target}/release/gateway")"

PG_PARENT=""
gw_pid=""
cleanup() {
    [ -n "$gw_pid" ] && kill "$gw_pid" 2>/dev/null
    mosquitto_stop
    pg_stop
    [ -n "$PG_PARENT" ] && rm -rf "$PG_PARENT"
    rm -f "$OUT"/*.db "$OUT"/*.db-wal "$OUT"/*.db-shm
    rm -rf "$OUT/pg-wal"
}
trap cleanup EXIT

if [[ " $SINKS " == *" postgres "* ]]; then
    PG_PARENT="$(mktemp -d /dev/shm/iot-bench-pg.XXXXXX)"
    pg_start "$PG_PARENT" "$OUT/pg-wal"
    echo "==> PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (data on tmpfs $PG_PARENT, WAL on disk $OUT/pg-wal)"
fi

echo "==> output in $OUT"
RESULTS="$OUT/results.tsv"
printf 'sink\tbatch\tround\toffered\tduration\tpublished\tdb_frames\tdb_rows\tlost\theld\trun_s\tcpu_s\tdb_cpu_s\tsteady_fps\tsteady_gw_cpu_per_k\tsteady_db_cpu_per_k\tload_before\tload_after\n' >"$RESULTS"

# run_one SINK BATCH ROUND RATE DURATION: one gateway run against a fresh
# Mosquitto and an empty table; appends a line to $RESULTS.
#
# The steady-state rate comes from the gateway's own /metrics
# (iot_gateway_frames_total{outcome="stored"}) and its CPU ticks, sampled
# every second, between WINDOW_FROM s after the start and DURATION s (the
# fleet publishes from about 1 s after the start to DURATION + 1 s): frames
# stored after publishing stopped (the gateway drains for up to --drain
# 10 s) do not count. The summary gives published, lost, db_frames.
WINDOW_FROM="${WINDOW_FROM:-10}"
run_one() {
    local sink="$1" batch="$2" round="$3" rate="$4" duration="$5"
    # BATCH is FRAMES, FRAMES/IN_FLIGHT (--batches-in-flight) or
    # FRAMES/IN_FLIGHT/WRITE (--pg-write insert|copy).
    local frames in_flight="" write=""
    IFS=/ read -r frames in_flight write <<<"$batch"
    [ -n "$in_flight" ] && in_flight="--batches-in-flight $in_flight"
    [ -n "$write" ] && in_flight="$in_flight --pg-write $write"
    local tag="$sink-b${batch//\//f}-r$round-x$rate" spec db_ticks0=0 db_ticks1=0 load_before load_after
    local avail_kib http_port t stored
    avail_kib=$(df -Pk "$OUT" | awk 'NR == 2 { print $4 }')
    [ "$avail_kib" -gt $((2 * 1024 * 1024)) ] || { echo "bench-sink: less than 2 GiB free on $OUT; stopping" >&2; exit 2; }
    case "$sink" in
        postgres)
            psql_q -c "DROP TABLE IF EXISTS readings" -c "CHECKPOINT"
            spec="$PG_URL" ;;
        sqlite)
            rm -f "$OUT/gateway.db" "$OUT/gateway.db-wal" "$OUT/gateway.db-shm"
            spec="sqlite:$OUT/gateway.db" ;;
        memory) spec=memory ;;
    esac
    mosquitto_start "$OUT" "${MOSQ_INFLIGHT:-2000}"
    http_port="$(free_port)"
    [ "$sink" = postgres ] && db_ticks0=$(pg_ticks)
    load_before=$(load1)
    echo "--> $tag: $DEVICES x $rate frames/s for ${duration}s, --sink $sink --batch-frames $batch (load $load_before)"
    # shellcheck disable=SC2086
    "$GATEWAY" --broker "mqtt://127.0.0.1:$MOSQ_PORT" --http "127.0.0.1:$http_port" \
        --devices "$DEVICES" --rate "$rate" --duration "${duration}s" --noisy-devices 0 \
        --device-limit 1000000 --progress plain --sink "$spec" --batch-frames "$frames" $in_flight \
        --summary-json "$OUT/$tag.json" ${GATEWAY_ARGS:-} >"$OUT/$tag.log" 2>&1 &
    gw_pid=$!
    echo "t_s,stored,gateway_cpu_ticks,db_cpu_ticks" >"$OUT/$tag.samples.csv"
    local start
    start=$(date +%s.%N)
    while kill -0 "$gw_pid" 2>/dev/null; do
        t=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
        stored=$(curl -s -m 0.5 "http://127.0.0.1:$http_port/metrics" \
            | awk '/^iot_gateway_frames_total\{.*outcome="stored"/ { print $NF }' || true)
        echo "$t,${stored:-},$(proc_ticks "$gw_pid"),$([ "$sink" = postgres ] && pg_ticks || echo 0)" >>"$OUT/$tag.samples.csv"
        sleep 1
    done
    if ! wait "$gw_pid"; then
        echo "    the gateway failed; see $OUT/$tag.log:" >&2
        grep -m1 -A1 "panicked" "$OUT/$tag.log" | sed 's/^/      /' >&2 || tail -3 "$OUT/$tag.log" >&2
    fi
    gw_pid=""
    load_after=$(load1)
    mosquitto_stop
    if [ "$sink" = postgres ]; then
        sleep 0.5 # the backend exits after the gateway: its CPU lands in the postmaster's reaped children
        db_ticks1=$(pg_ticks)
    fi
    # Steady state from the samples: frames/s, gateway and DB CPU s per 1000 frames.
    local steady
    steady=$(awk -F, -v from="$WINDOW_FROM" -v to="$duration" -v hz="$HZ" '
        NR > 1 && $2 != "" && $1 >= from && $1 <= to { if (t0 == "") { t0 = $1; s0 = $2; c0 = $3; d0 = $4 } t1 = $1; s1 = $2; c1 = $3; d1 = $4 }
        END {
            if (t1 > t0 && s1 > s0) printf "%.0f\t%.4f\t%.4f", (s1 - s0) / (t1 - t0), (c1 - c0) / hz * 1000 / (s1 - s0), (d1 - d0) / hz * 1000 / (s1 - s0)
            else printf "0\tnan\tnan"
        }' "$OUT/$tag.samples.csv")
    local summary="$OUT/$tag.json"
    [ -s "$summary" ] || summary=/dev/null
    jq -nr --slurpfile j <(cat "$summary" 2>/dev/null || true) --arg s "$sink" --arg b "$batch" --arg r "$round" \
        --arg o "$((DEVICES * rate))" --arg d "$duration" --arg st "$steady" \
        --arg dbc "$(awk -v a="$db_ticks0" -v b="$db_ticks1" -v hz="$HZ" 'BEGIN { printf "%.1f", (b - a) / hz }')" \
        --arg lb "$load_before" --arg la "$load_after" '
        ($j[0] // {}) as $x | ($st | split("\t")) as $w |
        [$s, $b, $r, $o, $d, ($x.published // "crash"), ($x.db_frames // $x.stored // "crash"), ($x.db_rows // 0),
         ($x.lost // "crash"), ($x.held_at_exit // 0), ($x.run_seconds // 0), ($x.cpu_seconds // 0), $dbc,
         $w[0], $w[1], $w[2], $lb, $la] | @tsv' | tee -a "$RESULTS" | sed 's/^/    /'
}

# ---- the interleaved main runs: A B, B A, A B, ... (ABBA), so that with
# an even ROUNDS each variant sees the same drift and the last run of each
# sink is the first of BATCHES (the batched default).
for round in $(seq 1 "$ROUNDS"); do
    order="$BATCHES"
    if [ $((round % 2)) = 0 ]; then order=$(echo "$BATCHES" | tr ' ' '\n' | tac | tr '\n' ' '); fi
    for sink in $SINKS; do
        for batch in $order; do
            run_one "$sink" "$batch" "$round" "$RATE" "$DURATION"
        done
    done
    if [ "$MEMORY_REFERENCE" = 1 ]; then run_one memory 1000 "$round" "$RATE" "$DURATION"; fi
done

# ---- the database's own bulk-load rate for the rows of the last batched run
BULK="$OUT/bulk.tsv"
: >"$BULK"
for sink in $SINKS; do
    # The table holds the rows of the last run of this sink: with ABBA
    # order and an even ROUNDS, a batched one.
    case "$sink" in
        postgres)
            rows=$(psql_q -c "SELECT count(*) FROM readings")
            csv="$PG_PARENT/rows.csv"
            psql_q -c "COPY readings TO '$csv' (FORMAT csv)" # physical order = arrival order
            psql_q -c "DROP TABLE IF EXISTS bulk" -c "CREATE TABLE bulk (LIKE readings INCLUDING ALL)" -c "CHECKPOINT"
            load_before=$(load1)
            t0=$(date +%s.%N)
            psql_q -c "COPY bulk FROM '$csv' (FORMAT csv)"
            t1=$(date +%s.%N)
            loaded=$(psql_q -c "SELECT count(*) FROM bulk")
            psql_q -c "DROP TABLE bulk" -c "DROP TABLE readings"
            rm -f "$csv" ;;
        sqlite)
            src="$OUT/gateway.db"
            [ -f "$src" ] || continue
            rows=$(sqlite3 "$src" "SELECT count(*) FROM readings")
            # The same rows in arrival order (ts), as the gateway writes
            # them, in a rowid table on tmpfs (untimed); and in key order
            # (the table itself), the best case for the b-tree.
            arrival="$(mktemp -u /dev/shm/iot-bench-arrival.XXXXXX).db"
            sqlite3 "$arrival" "ATTACH '$src' AS src; CREATE TABLE a AS SELECT * FROM src.readings ORDER BY ts, device, channel;"
            for order in arrival key; do
                rm -f "$OUT/bulk.db"
                { echo "PRAGMA journal_mode = WAL;"; echo "PRAGMA synchronous = FULL;"; sqlite3 "$src" ".schema readings"; } | sqlite3 "$OUT/bulk.db" >/dev/null
                if [ "$order" = arrival ]; then from="'$arrival' AS s; INSERT INTO readings SELECT * FROM s.a"; else from="'$src' AS s; INSERT INTO readings SELECT * FROM s.readings"; fi
                load_before=$(load1)
                t0=$(date +%s.%N)
                sqlite3 "$OUT/bulk.db" "PRAGMA synchronous = FULL; ATTACH ${from%%;*}; BEGIN; ${from#*; }; COMMIT;"
                t1=$(date +%s.%N)
                loaded=$(sqlite3 "$OUT/bulk.db" "SELECT count(*) FROM readings")
                rm -f "$OUT/bulk.db" "$OUT/bulk.db-wal" "$OUT/bulk.db-shm"
                secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
                printf '%s\t%s\t%s\t%s\t%s\n' "sqlite-$order" "$loaded" "$secs" "$load_before" "$(load1)" | tee -a "$BULK" | sed 's/^/    bulk load: /'
            done
            rm -f "$arrival"
            continue ;;
        *) continue ;;
    esac
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    printf '%s\t%s\t%s\t%s\t%s\n' "$sink" "$loaded" "$secs" "$load_before" "$(load1)" | tee -a "$BULK" | sed 's/^/    bulk load: /'
    [ "$loaded" = "$rows" ] || echo "    bulk load: $loaded of $rows rows" >&2
done

# ---- what the gateway sustains, if the batched default missed the target
SUSTAIN="$OUT/sustain.tsv"
: >"$SUSTAIN"
ok_run() { # line of results.tsv -> exit 0 when 0 lost and stored >= 95 % of offered
    awk -F'\t' '{ exit !($9 == "0" && $14 >= 0.95 * $4) }' <<<"$1"
}
for sink in $SINKS; do
    missed=0
    while IFS= read -r line; do ok_run "$line" || missed=1; done \
        < <(awk -F'\t' -v s="$sink" '$1 == s && $2 == 1000' "$RESULTS")
    [ "$missed" = 1 ] || continue
    for rate in $SUSTAIN_RATES; do
        run_one "$sink" 1000 sustain "$rate" "$SUSTAIN_DURATION"
        line=$(tail -1 "$RESULTS")
        if ok_run "$line"; then
            printf '%s\t%s\n' "$sink" "$((DEVICES * rate))" >>"$SUSTAIN"
            break
        fi
    done
done

# ---- the table
echo
echo "## Results ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'))"
echo
echo "Stored frames/s and CPU are the steady state between ${WINDOW_FROM} s and the end of publishing (the gateway's /metrics and /proc, sampled every second);"
echo "published, lost and held at exit are from the gateway's summary at exit (after its drain of up to 10 s); \"crash\": the gateway exited without one."
echo
echo "| sink | --batch-frames | round | offered frames/s | published | stored at exit (db_frames) | lost | held at exit | **stored frames/s** | % of offered | gateway CPU s / 1000 frames | gateway CPU, % of a core | PostgreSQL CPU s / 1000 frames | load before / after |"
echo "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
awk -F'\t' 'NR > 1 {
    db_k = ($1 == "postgres") ? sprintf("%.3f", $16) : "-"
    printf "| %s | %s | %s | %d | %s | %s | %s | %s | **%d** | %.0f%% | %.3f | %.0f%% | %s | %s / %s |\n",
        $1, $2, $3, $4, $6, $7, $9, $10, $14, $14 * 100 / $4, $15, $15 * $14 / 10, db_k, $17, $18
}' "$RESULTS"
if [ -s "$BULK" ]; then
    echo
    echo "| database bulk load (the physical limit) | rows | seconds | rows/s | = frames/s (8 rows each) | load before / after |"
    echo "| --- | ---: | ---: | ---: | ---: | --- |"
    awk -F'\t' '{
        what = ($1 == "postgres") ? "PostgreSQL: server-side `COPY readings FROM` a CSV of the rows (arrival order), one transaction" \
             : ($1 == "sqlite-arrival") ? "SQLite: one transaction `INSERT INTO readings SELECT` the rows in arrival order (ts)" \
             : "SQLite: one transaction `INSERT INTO readings SELECT` the rows in key order (best case)"
        printf "| %s | %d | %.2f | %d | **%d** | %s / %s |\n", what, $2, $3, $2 / $3, $2 / $3 / 8, $4, $5
    }' "$BULK"
fi
echo
while read -r sink; do
    got=$(awk -F'\t' -v s="$sink" '$1 == s { print $2 }' "$SUSTAIN")
    avg=$(awk -F'\t' -v s="$sink" '$1 == s && $2 ~ /^1000(\/|$)/ && $3 != "sustain" { n++; f += $14 } END { if (n) printf "%d", f / n }' "$RESULTS")
    [ -n "$avg" ] || continue
    if awk -F'\t' -v s="$sink" '$1 == s && $2 ~ /^1000(\/|$)/ && $3 != "sustain" { if (!($9 == "0" && $14 >= 0.95 * $4)) bad = 1 } END { exit bad }' "$RESULTS"; then
        echo "- $sink: the target of $((DEVICES * RATE)) frames/s for ${DURATION}s is met (mean stored $avg frames/s, 0 lost)."
    else
        echo "- $sink: **the target of $((DEVICES * RATE)) frames/s for ${DURATION}s is NOT met**: mean stored $avg frames/s with the batched default;" \
            "sustained (0 lost, steady stored >= 95 % of offered, ${SUSTAIN_DURATION}s runs at $DEVICES devices x $SUSTAIN_RATES frames/s): ${got:-none of those}${got:+ frames/s}."
    fi
done < <(echo "$SINKS" | tr ' ' '\n')
echo
echo "raw: $RESULTS, $BULK, $SUSTAIN; summaries and logs in $OUT"
