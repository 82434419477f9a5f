#!/usr/bin/env bash
# Stop the broker that deploy/kafka/start.sh started on KAFKA_PORT (default 9092).
#
#   KAFKA_PORT=19092 bash deploy/kafka/stop.sh       # `make kafka-down` uses KAFKA_PORT=9092
#
# Stops exactly the process named in .kafka/kafka-PORT.pid (SIGTERM, a bounded wait for
# Kafka's controlled shutdown, then SIGKILL), never a process found by name. Exits 0 when
# nothing is running. Environment: KAFKA_PORT, KAFKA_STATE_DIR, KAFKA_STOP_TIMEOUT (30 s).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
state_dir="${KAFKA_STATE_DIR:-$root/.kafka}"
port="${KAFKA_PORT:-9092}"
timeout_s="${KAFKA_STOP_TIMEOUT:-30}"
pid_file="$state_dir/kafka-$port.pid"
props="$state_dir/server-$port.properties"

say() { echo "kafka-down: $*"; }

case "$timeout_s" in '' | *[!0-9]*) timeout_s=30 ;; esac

if [ ! -f "$pid_file" ]; then
    say "no broker running on port $port (no pid file $pid_file)"
    exit 0
fi

pid="$(tr -dc '0-9' <"$pid_file")"
# Alive and not a zombie waiting for its reaper.
alive() {
    kill -0 "$pid" 2>/dev/null || return 1
    local state
    state="$(sed -n 's/^State:[[:space:]]*\([A-Z]\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)"
    [ "$state" != "Z" ]
}

# Only signal the pid when it still is the broker we started (a pid can be recycled).
is_our_broker() {
    local cmdline
    [ -r "/proc/$pid/cmdline" ] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    case "$cmdline" in *kafka.Kafka*"$props"*) return 0 ;; *) return 1 ;; esac
}

if [ -z "$pid" ] || ! alive; then
    say "broker on port $port is not running (stale pid file removed)"
    rm -f "$pid_file"
    exit 0
fi
if ! is_our_broker; then
    say "pid $pid from $pid_file is not our Kafka broker any more; leaving it alone (stale pid file removed)"
    rm -f "$pid_file"
    exit 0
fi

say "stopping broker pid $pid on port $port"
kill -TERM "$pid" 2>/dev/null || true
deadline=$((SECONDS + timeout_s))
while alive && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.2
done
if alive; then
    say "broker pid $pid still alive after ${timeout_s} s; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        alive || break
        sleep 0.1
    done
fi
if alive; then
    echo "kafka-down: error: broker pid $pid did not exit" >&2
    exit 1
fi
rm -f "$pid_file"
say "stopped"
