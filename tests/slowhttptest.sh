#!/usr/bin/env bash
# Slow-HTTP denial-of-service check for rawserve, with slowhttptest
# (Debian package `slowhttptest`).
#
# Builds the release binary, serves a small fixture site with two workers,
# and runs the four slowhttptest attacks one after the other: slowloris (-H),
# slow body (-B), slow read (-X) and range / "Apache killer" (-R), each with
# 1000 connections for a bounded time. While each runs, curl fetches
# /index.html every 0.5 s with a 2 s limit. The script fails if any probe
# fails or is not 200, if slowhttptest reports the service unavailable, or if
# the server dies. Reports (CSV + HTML per attack) are kept in a temporary
# directory whose path is printed.
#
# Usage: tests/slowhttptest.sh    (no arguments, no stdin; about 2 minutes)
# Environment: SLOW_DURATION (seconds per attack, default 25),
#              SLOW_CONNECTIONS (default 1000), SLOW_RATE (default 200).
set -euo pipefail
cd "$(dirname "$0")/.."

duration=${SLOW_DURATION:-25}
connections=${SLOW_CONNECTIONS:-1000}
rate=${SLOW_RATE:-200}

for tool in slowhttptest curl cargo; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "slowhttptest.sh: $tool is not installed (apt-get install slowhttptest curl)" >&2
        exit 1
    }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/rawserve-slowhttptest.XXXXXX")
server_pid=""
probe_pid=""
attack_pid=""

stop() {
    # Ends only what this script started, each by its own pid.
    local pid
    for pid in "$attack_pid" "$probe_pid" "$server_pid"; do
        [[ -n $pid ]] && kill "$pid" 2>/dev/null || true
    done
    for pid in "$attack_pid" "$probe_pid" "$server_pid"; do
        [[ -n $pid ]] && wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work/site"
}
trap stop EXIT
trap 'exit 130' INT TERM

# slowhttptest needs a descriptor per connection, and so does the server.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit=$(ulimit -n)
if [[ $fd_limit != unlimited ]] && ((fd_limit < connections + 100)); then
    echo "slowhttptest.sh: open-file limit $(ulimit -n) is below $((connections + 100))" >&2
    exit 1
fi

echo "==> cargo build --release"
cargo build --release --quiet </dev/null

site="$work/site"
mkdir -p "$site"
printf '<!doctype html>\n<title>rawserve</title>\n<p>slowhttptest fixture\n' >"$site/index.html"
head -c $((1024 * 1024)) /dev/urandom >"$site/big.bin"

# A free port: try random ones until the server starts on one.
port=""
for _ in $(seq 1 20); do
    candidate=$((20000 + RANDOM % 40000))
    RUST_LOG=warn target/release/rawserve "$site" --port "$candidate" --threads 2 \
        </dev/null >"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 50); do
        if curl --noproxy '*' -s -o /dev/null --max-time 1 "http://127.0.0.1:$candidate/hello" </dev/null; then
            port=$candidate
            break 2
        fi
        kill -0 "$server_pid" 2>/dev/null || break # port in use: it exited
        sleep 0.1
    done
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
done
if [[ -z $port ]]; then
    echo "slowhttptest.sh: rawserve did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
fi
base="http://127.0.0.1:$port"
echo "==> rawserve (pid $server_pid) serving $site on $base with 2 workers"
echo "    $connections connections at $rate/s, $duration s per attack; reports in $work"

# Fetches /index.html every 0.5 s; one "status seconds" line per probe.
probe_loop() {
    local out
    while true; do
        out=$(curl --noproxy '*' --max-time 2 -s -o /dev/null -w '%{http_code} %{time_total}' \
            "$base/index.html" </dev/null) || true
        echo "${out:-000 0}"
        sleep 0.5
    done
}

failed=0

# run_attack NAME URL SLOWHTTPTEST-FLAGS...
run_attack() {
    local name=$1 url=$2
    shift 2
    local prefix="$work/$name" probes="$work/$name.probes"
    echo
    echo "==> $name: slowhttptest $* -c $connections -r $rate -l $duration -i 10 -u $url"
    probe_loop >"$probes" &
    probe_pid=$!
    slowhttptest "$@" -c "$connections" -r "$rate" -l "$duration" -i 10 -p 2 \
        -g -o "$prefix" -u "$url" </dev/null >"$prefix.log" 2>&1 &
    attack_pid=$!
    local deadline=$((SECONDS + duration + 40)) status=0
    while kill -0 "$attack_pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 1
    done
    if kill -0 "$attack_pid" 2>/dev/null; then
        echo "    slowhttptest did not finish in time; stopping it"
        kill "$attack_pid" 2>/dev/null || true
    fi
    wait "$attack_pid" 2>/dev/null || status=$?
    attack_pid=""
    kill "$probe_pid" 2>/dev/null || true
    wait "$probe_pid" 2>/dev/null || true
    probe_pid=""

    local verdict=ok why=()
    if ((status != 0)); then
        why+=("slowhttptest exited with status $status")
    fi
    local exit_line
    exit_line=$(sed 's/\x1b\[[0-9;]*[A-Za-z]//g' "$prefix.log" | grep -o 'Exit status:.*' | tail -1 || true)

    # Columns are found by name: Seconds,Closed,Pending,Connected,Service Available.
    local stats
    if [[ -s $prefix.csv ]]; then
        stats=$(awk -F, '
            NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
            {
                rows++
                c = $col["Connected"] + 0; if (c > maxc) maxc = c
                p = $col["Pending"] + 0; if (p > maxp) maxp = p
                closed = $col["Closed"] + 0; pending = p
                s = $col["Service Available"] + 0
                if (rows == 1 || s < mins) mins = s
                if (s == 0) down++
            }
            END { printf "%d %d %d %d %d %d %d\n", rows, maxc, closed, pending, maxp, mins, down }
        ' "$prefix.csv")
    else
        stats="0 0 0 0 0 0 0"
        why+=("no CSV report")
    fi
    local rows maxc closed pending maxp mins down
    read -r rows maxc closed pending maxp mins down <<<"$stats"
    if ((rows > 0 && down > 0)); then
        why+=("slowhttptest saw the service unavailable in $down of $rows samples")
    fi
    if ((rows > 0 && maxc == 0)); then
        why+=("the attack never got a connection (test did not happen)")
    fi

    local total okp maxt
    total=$(wc -l <"$probes")
    okp=$(awk '$1 == 200' "$probes" | wc -l)
    maxt=$(awk 'BEGIN { m = 0 } $2 + 0 > m { m = $2 + 0 } END { printf "%.1f", m * 1000 }' "$probes")
    if ((total == 0)); then
        why+=("no probes ran")
    elif ((okp != total)); then
        why+=("$((total - okp)) of $total probes failed: $(awk '$1 != 200' "$probes" | sort | uniq -c | head -3 | tr -s ' \n' ' ')")
    fi
    if ! kill -0 "$server_pid" 2>/dev/null; then
        why+=("rawserve died")
    fi
    ((${#why[@]} == 0)) || verdict=FAIL

    printf '    %-4s %-12s max connected %4d | closed %4d | pending %4d (max %d) | service available %s | probes %d/%d ok, slowest %s ms | %s\n' \
        "$verdict" "$name" "$maxc" "$closed" "$pending" "$maxp" \
        "$( ((rows > 0 && down == 0)) && echo YES || echo NO)" "$okp" "$total" "$maxt" "${exit_line:-no exit line}"
    local reason
    for reason in "${why[@]}"; do
        echo "         - $reason"
    done
    if [[ $verdict != ok ]]; then
        failed=1
    fi
    sleep 1 # let the server notice the attack's closes before the next one
}

run_attack slowloris "$base/index.html" -H
run_attack slow-body "$base/index.html" -B -s 8192
run_attack slow-read "$base/big.bin" -X -k 3 -n 5 -w 10 -y 20 -z 32
run_attack range "$base/big.bin" -R

echo
if ((failed)); then
    echo "==> FAILED (server log: $work/server.log; reports: $work)"
    tail -20 "$work/server.log" || true
    exit 1
fi
echo "==> ok: rawserve stayed available under all four attacks (reports: $work)"
