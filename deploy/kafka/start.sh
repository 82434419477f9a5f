#!/usr/bin/env bash
# Start a single-node Apache Kafka (KRaft, combined broker+controller) on 127.0.0.1.
#
#   KAFKA_PORT=19092 bash deploy/kafka/start.sh      # `make kafka-up` uses KAFKA_PORT=9092
#
# Environment (all optional):
#   KAFKA_PORT             client listener port (default 9092)
#   KAFKA_CONTROLLER_PORT  KRaft controller listener port (default KAFKA_PORT+1000, or a free
#                          port when that one is taken or out of range)
#   KAFKA_START_TIMEOUT    seconds to wait for the broker to answer a metadata request (90)
#   KAFKA_HEAP_OPTS        JVM heap options (default "-Xms256m -Xmx512m")
#   KAFKA_JVM_OPTS         extra JVM options, appended
#   KAFKA_STATE_DIR        state folder (default <repo>/.kafka); KAFKA_LIBS_DIR jar folder
#   KAFKA_CHECK_PYTHON     python with kafka-python for the readiness probe (default .venv)
#
# Files, all per port so that brokers on different ports never share anything:
#   .kafka/server-PORT.properties  .kafka/log4j2-PORT.properties  (written here, every start)
#   .kafka/data-PORT/              log.dirs, wiped and formatted on every start
#   .kafka/kafka-PORT.log          broker log (log4j2 + JVM stdout/stderr); previous run: .log.1
#   .kafka/kafka-PORT.pid          pid of the broker JVM; deploy/kafka/stop.sh reads it
#
# Idempotent: if the broker of our pid file is alive and answers, it says so and exits 0.
# On failure it prints the log tail, stops the JVM it started and exits non-zero.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
state_dir="${KAFKA_STATE_DIR:-$root/.kafka}"
libs_dir="${KAFKA_LIBS_DIR:-$state_dir/libs}"
port="${KAFKA_PORT:-9092}"
timeout_s="${KAFKA_START_TIMEOUT:-90}"
heap_opts="${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}"
extra_jvm_opts="${KAFKA_JVM_OPTS:-}"

props="$state_dir/server-$port.properties"
log4j_props="$state_dir/log4j2-$port.properties"
data_dir="$state_dir/data-$port"
log_file="$state_dir/kafka-$port.log"
pid_file="$state_dir/kafka-$port.pid"

say() { echo "kafka-up: $*"; }
die() {
    echo "kafka-up: error: $*" >&2
    exit 1
}

case "$port" in '' | *[!0-9]*) die "KAFKA_PORT must be a port number, got '$port'" ;; esac
[ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "KAFKA_PORT out of range: $port"
case "$timeout_s" in '' | *[!0-9]*) die "KAFKA_START_TIMEOUT must be whole seconds" ;; esac

# --- helpers -------------------------------------------------------------------------------

# True when something accepts TCP connections on 127.0.0.1:$1.
port_listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# True when pid $1 is alive and is a Kafka broker JVM started with our properties file
# (guards against a recycled pid).
is_our_broker() {
    local pid="$1" cmdline
    [ -r "/proc/$pid/cmdline" ] || return 1
    cmdline="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)" || return 1
    case "$cmdline" in *kafka.Kafka*"$props"*) return 0 ;; *) return 1 ;; esac
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# A python interpreter that can import kafka-python, or nothing.
probe_python() {
    local candidate
    for candidate in "${KAFKA_CHECK_PYTHON:-}" "$root/.venv/bin/python" python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import kafka' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 0
}

# Wait until the broker on $port answers a metadata request, while pid $1 stays alive.
# Exit codes: 0 ready, 2 (or 124) timed out, 3 process died, 4 probe broken.
wait_ready() {
    local pid="$1" py
    py="$(probe_python)"
    if [ -n "$py" ]; then
        # `timeout`: a hard bound even if a client call were to block longer than asked.
        timeout "$((timeout_s + 15))" "$py" - "$port" "$pid" "$timeout_s" <<'PY'
import logging, os, socket, sys, time

logging.disable(logging.CRITICAL)  # kafka-python logs every refused connection
from kafka import KafkaAdminClient  # noqa: E402
from kafka.errors import KafkaConfigurationError, KafkaError  # noqa: E402

port, pid, timeout = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
# Short client-side timeouts so that one attempt never outlasts the overall deadline
# (kafka-python 3 otherwise backs off up to 30 s while bootstrapping).
options = {
    "request_timeout_ms": 5000,
    "bootstrap_timeout_ms": 5000,
    "reconnect_backoff_max_ms": 500,
}
options = {k: v for k, v in options.items() if k in KafkaAdminClient.DEFAULT_CONFIG}
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit(3)
    try:
        # Cheap check first: is the listener up at all?
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{port}", **options)
        try:
            admin.describe_cluster()  # the broker must answer a metadata request
        finally:
            admin.close()
        sys.exit(0)
    except KafkaConfigurationError as exc:  # a bug in this probe, not a slow broker
        print(f"kafka-up: readiness probe misconfigured: {exc}", file=sys.stderr)
        sys.exit(4)
    except (KafkaError, OSError):
        time.sleep(0.5)
sys.exit(2)
PY
        return $?
    fi
    # No kafka-python anywhere: fall back to the broker's own "started" line plus an open port.
    local deadline=$((SECONDS + timeout_s))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kill -0 "$pid" 2>/dev/null || return 3
        if grep -q 'Kafka Server started' "$log_file" 2>/dev/null && port_listening "$port"; then
            return 0
        fi
        sleep 0.5
    done
    return 2
}

stop_pid() {
    local pid="$1" i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 40; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
    kill -KILL "$pid" 2>/dev/null || true
}

# --- already running? ------------------------------------------------------------------------

if [ -f "$pid_file" ]; then
    old_pid="$(tr -dc '0-9' <"$pid_file")"
    if [ -n "$old_pid" ] && is_our_broker "$old_pid"; then
        rc=0
        wait_ready "$old_pid" || rc=$?
        if [ "$rc" -eq 0 ]; then
            say "broker already running on 127.0.0.1:$port (pid $old_pid)"
            exit 0
        fi
        tail -n 40 "$log_file" >&2 2>/dev/null || true
        die "broker pid $old_pid (from $pid_file) is alive but does not answer on port $port; run 'KAFKA_PORT=$port bash deploy/kafka/stop.sh' and retry"
    fi
    say "removing stale pid file $pid_file (pid ${old_pid:-?} is not a running broker of ours)"
    rm -f "$pid_file"
fi

if port_listening "$port"; then
    die "port $port on 127.0.0.1 is already in use by another process (not ours); pick another KAFKA_PORT or point KAFKA_BOOTSTRAP_SERVERS at that broker"
fi

# --- jars, ports, config ------------------------------------------------------------------------

# Jars: a no-op when .kafka/libs already holds those of the pinned version.
bash "$here/fetch-jars.sh"
ls "$libs_dir"/kafka_2.13-*.jar >/dev/null 2>&1 || die "no Kafka jars in $libs_dir"
command -v java >/dev/null 2>&1 || die "java not found (Java 17+ needed): run 'make system-deps'"

controller_port="${KAFKA_CONTROLLER_PORT:-}"
if [ -z "$controller_port" ]; then
    controller_port=$((port + 1000))
    if [ "$controller_port" -gt 65535 ] || port_listening "$controller_port"; then
        controller_port="$(free_port)"
    fi
fi
[ "$controller_port" != "$port" ] || die "KAFKA_CONTROLLER_PORT must differ from KAFKA_PORT"
if port_listening "$controller_port"; then
    die "controller port $controller_port is already in use"
fi

mkdir -p "$state_dir"
rm -rf "$data_dir"  # stale data from an earlier run must not break a fresh start
mkdir -p "$data_dir"
if [ -f "$log_file" ]; then
    mv -f "$log_file" "$log_file.1"
fi

cat >"$props" <<EOF
# Written by deploy/kafka/start.sh on every start; edits here are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$data_dir

# One node: every internal topic has one replica.
num.partitions=1
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1

# Fast tests: no initial rebalance delay. Tests create their own topics anyway.
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
delete.topic.enable=true

# Small footprint for a development broker.
num.network.threads=2
num.io.threads=4
log.cleaner.dedupe.buffer.size=16777216
log.retention.hours=24
EOF

cat >"$log4j_props" <<EOF
# Written by deploy/kafka/start.sh: every logger goes to stdout, which start.sh sends to
# $log_file (so JVM errors and broker logs end up in the same file).
status = warn
shutdownHook = disable
appender.out.type = Console
appender.out.name = OUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = OUT
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
EOF

classpath="$libs_dir/*"
# shellcheck disable=SC2206  # option strings are word lists on purpose
jvm_opts=($heap_opts -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -Djava.awt.headless=true
    "-Dlog4j2.configurationFile=$log4j_props" "-Dkafka.logs.dir=$state_dir" $extra_jvm_opts)

# --- format storage -----------------------------------------------------------------------------

# A Kafka cluster id is 16 random bytes, URL-safe base64; one starting with '-' would
# be read by the storage tool as an option, so draw again (about 1 id in 64).
cluster_id="$(python3 -c '
import base64, uuid
while True:
    cid = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    if not cid.startswith("-"):
        print(cid)
        break
')"
start_s=$SECONDS
say "formatting $data_dir (cluster id $cluster_id)"
format_main=""
for main in kafka.tools.StorageTool org.apache.kafka.tools.StorageTool; do
    rc=0
    java "${jvm_opts[@]}" -cp "$classpath" "$main" format -t "$cluster_id" -c "$props" \
        >>"$log_file" 2>&1 || rc=$?
    if [ "$rc" -eq 0 ]; then
        format_main="$main"
        break
    fi
    # Try the other class name only when this one does not exist in this Kafka version.
    grep -q "ClassNotFoundException: $main\|Could not find or load main class $main" "$log_file" || break
done
if [ -z "$format_main" ]; then
    tail -n 30 "$log_file" >&2 || true
    die "formatting the KRaft storage failed (log: $log_file)"
fi

# --- start the broker ------------------------------------------------------------------------

# setsid: the broker gets its own session, so it outlives this script and `make`.
setsid java "${jvm_opts[@]}" -cp "$classpath" kafka.Kafka "$props" \
    >>"$log_file" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$pid_file"
say "started broker pid $pid on 127.0.0.1:$port (controller 127.0.0.1:$controller_port), log $log_file"

rc=0
wait_ready "$pid" || rc=$?
if [ "$rc" -ne 0 ]; then
    echo "---- last 60 lines of $log_file ----" >&2
    tail -n 60 "$log_file" >&2 || true
    echo "------------------------------------" >&2
    stop_pid "$pid"
    rm -f "$pid_file"
    if [ "$rc" -eq 3 ]; then
        die "the broker process exited during start-up (see log above)"
    fi
    die "the broker did not answer a metadata request on 127.0.0.1:$port within ${timeout_s} s; stopped it"
fi
say "broker ready on 127.0.0.1:$port after $((SECONDS - start_s)) s"
