#!/usr/bin/env bash
# Local single-node Apache Kafka broker (KRaft, combined broker+controller)
# for development and tests. Jars come from Maven Central via pom.xml.
#
#   infra/kafka/kafka.sh fetch [--force]  jars -> infra/kafka/dist/libs (skips if already there)
#   infra/kafka/kafka.sh start            fetch if needed, format storage once, start, wait until ready
#   infra/kafka/kafka.sh stop             SIGTERM, then SIGKILL after KAFKA_STOP_TIMEOUT; waits for the port
#   infra/kafka/kafka.sh restart          stop + start, keeping the data
#   infra/kafka/kafka.sh status           exit 0 if running and answering metadata, 1 otherwise
#   infra/kafka/kafka.sh reset            stop and delete the data dir
#   infra/kafka/kafka.sh logs [N]         tail the broker's output
#   infra/kafka/kafka.sh run-class CLASS [ARGS...]   e.g. org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 --list
#
# Environment (all optional):
#   KAFKA_PORT=9092               client (PLAINTEXT) port on 127.0.0.1
#   KAFKA_CONTROLLER_PORT         controller port on 127.0.0.1 (default KAFKA_PORT+1)
#   KAFKA_DATA_DIR                default infra/kafka/data (git-ignored): logs, pid, server.properties
#   KAFKA_HEAP="-Xms256m -Xmx512m"
#   KAFKA_START_TIMEOUT=90        seconds to wait for the broker to answer
#   KAFKA_STOP_TIMEOUT=30         seconds to wait after SIGTERM before SIGKILL
#   KAFKA_EXTRA_PROPERTIES        extra server.properties lines (newline separated), appended last
#   KAFKA_EXTRA_PROPERTIES_FILE   a file of extra server.properties lines, appended after those
#                                 (a key given again wins: that is how secure.sh sets its listeners)
#   KAFKA_FORMAT_ARGS_FILE        extra arguments to StorageTool format, one a line, used once when the
#                                 storage is formatted (secure.sh: --add-scram for the admin user)
#   KAFKA_PROBE_CAFILE            the client listener speaks TLS: probe it with this CA (probe.py)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
DIST="$HERE/dist"
LIBS="$DIST/libs"
STAMP="$LIBS/.fetched"

HOST=127.0.0.1
PORT="${KAFKA_PORT:-9092}"
CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
DATA_DIR="${KAFKA_DATA_DIR:-$HERE/data}"
mkdir -p "$(dirname "$DATA_DIR")"
DATA_DIR="$(cd "$(dirname "$DATA_DIR")" && pwd -P)/$(basename "$DATA_DIR")"
HEAP="${KAFKA_HEAP:--Xms256m -Xmx512m}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"
STOP_TIMEOUT="${KAFKA_STOP_TIMEOUT:-30}"

PROPS="$DATA_DIR/server.properties"
PID_FILE="$DATA_DIR/kafka.pid"
OUT_FILE="$DATA_DIR/kafka.out"
LOG_DIR="$DATA_DIR/logs"              # log4j output (server.log, ...)
KRAFT_DIR="$DATA_DIR/kraft-combined"  # partition data + metadata log

log() { printf '[kafka.sh] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ "$PORT" == "$CONTROLLER_PORT" ]]; then
    die "KAFKA_PORT and KAFKA_CONTROLLER_PORT must differ (both $PORT)"
fi

now_ms() { date +%s%3N; }

# --- locking: one start/stop/reset per data dir at a time, one fetch at a time
with_lock() {  # with_lock FD LOCKFILE CMD... (FD 8 = fetch lock, 9 = data-dir lock)
    local fd="$1" lockfile="$2"; shift 2
    eval "exec $fd>\"\$lockfile\""
    if ! flock -w 600 "$fd"; then die "could not take lock $lockfile within 600s"; fi
    "$@"
}
DATA_LOCK="${TMPDIR:-/tmp}/junheng-kafka-$(printf '%s' "$DATA_DIR" | cksum | cut -d' ' -f1).lock"

# --- fetch ------------------------------------------------------------------
pom_hash() { sha256sum "$HERE/pom.xml" | cut -d' ' -f1; }

is_fetched() {
    [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$(pom_hash)" ]] \
        && compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null
}

do_fetch() {
    local force="${1:-}"
    if [[ "$force" != "--force" ]] && is_fetched; then
        log "already fetched: $(ls "$LIBS"/*.jar | wc -l) jars in $LIBS"
        return 0
    fi
    command -v mvn >/dev/null || die "mvn not found (apt-get install maven)"
    command -v java >/dev/null || die "java not found (apt-get install openjdk-17-jre-headless)"
    local t0; t0=$(now_ms)
    log "fetching Kafka jars from Maven Central into $LIBS ..."
    rm -rf "$LIBS"
    if ! mvn -q -B -Dstyle.color=never -f "$HERE/pom.xml" package >"$DIST/mvn.log" 2>&1; then
        tail -n 40 "$DIST/mvn.log" >&2
        rm -rf "$LIBS"
        die "mvn failed (full output in $DIST/mvn.log)"
    fi
    compgen -G "$LIBS/kafka_2.13-*.jar" >/dev/null || die "mvn ran but no kafka_2.13 jar in $LIBS"
    pom_hash > "$STAMP"
    log "fetched $(ls "$LIBS"/*.jar | wc -l) jars in $(( ($(now_ms) - t0) / 1000 ))s"
}

fetch() {
    mkdir -p "$DIST"
    with_lock 8 "$DIST/.fetch.lock" do_fetch "$@"
}

# --- process helpers ---------------------------------------------------------
is_our_kafka() {  # is_our_kafka PID: alive and a kafka.Kafka using our server.properties
    local pid="$1"
    [[ -n "$pid" && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' < "/proc/$pid/cmdline" | grep -qF "kafka.Kafka $PROPS"
}

current_pid() {  # prints the broker pid, or nothing
    local pid=""
    if [[ -f "$PID_FILE" ]]; then
        pid="$(cat "$PID_FILE" 2>/dev/null || true)"
        if is_our_kafka "$pid"; then echo "$pid"; return 0; fi
    fi
    # pid file lost or stale: look for a broker started with exactly our config file
    pid="$(pgrep -f -- "kafka.Kafka $PROPS" 2>/dev/null | head -n1 || true)"
    if [[ -n "$pid" ]] && is_our_kafka "$pid"; then echo "$pid"; fi
}

port_open() {  # port_open PORT: something accepts TCP connections on 127.0.0.1:PORT
    timeout 2 bash -c "exec 3<>/dev/tcp/$HOST/$1" 2>/dev/null
}

probe() {  # a real Metadata request; falls back to a TCP check without python3
    if command -v python3 >/dev/null; then
        python3 "$HERE/probe.py" "$HOST" "$PORT" 3 "${KAFKA_PROBE_CAFILE:-}" 2>/dev/null
    else
        port_open "$PORT"
    fi
}

log_tail() {
    local n="${1:-60}"
    if [[ -f "$OUT_FILE" ]]; then
        echo "----- last $n lines of $OUT_FILE -----" >&2
        tail -n "$n" "$OUT_FILE" >&2
        echo "-----" >&2
    fi
}

# --- config + storage ---------------------------------------------------------
write_props() {
    mkdir -p "$DATA_DIR" "$LOG_DIR" "$KRAFT_DIR"
    cat > "$PROPS.tmp" <<EOF
# generated by infra/kafka/kafka.sh on $(date -u +%FT%TZ); edits are overwritten on start
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KRAFT_DIR

num.partitions=4
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0

# small machine
num.network.threads=2
num.io.threads=4
num.recovery.threads.per.data.dir=1
log.retention.hours=168
log.segment.bytes=104857600
log.retention.check.interval.ms=300000
EOF
    if [[ -n "${KAFKA_EXTRA_PROPERTIES:-}" ]]; then
        printf '\n# KAFKA_EXTRA_PROPERTIES\n%s\n' "$KAFKA_EXTRA_PROPERTIES" >> "$PROPS.tmp"
    fi
    if [[ -n "${KAFKA_EXTRA_PROPERTIES_FILE:-}" ]]; then
        printf '\n# KAFKA_EXTRA_PROPERTIES_FILE %s\n' "$KAFKA_EXTRA_PROPERTIES_FILE" >> "$PROPS.tmp"
        cat "$KAFKA_EXTRA_PROPERTIES_FILE" >> "$PROPS.tmp"
    fi
    mv "$PROPS.tmp" "$PROPS"
}

java_cp() {  # java_cp CLASS ARGS... : run a (tool) class from the fetched jars
    java -Xmx256m -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$HERE/tools-log4j.properties" \
        -cp "$LIBS/*" "$@"
}

format_storage() {
    if [[ -f "$KRAFT_DIR/meta.properties" ]]; then
        return 0
    fi
    local cluster_id
    if [[ -s "$DATA_DIR/cluster.id" ]]; then
        cluster_id="$(cat "$DATA_DIR/cluster.id")"
    else
        cluster_id="$(java -Xmx128m -cp "$LIBS/*" \
            -Dlog4j.configuration="file:$HERE/tools-log4j.properties" \
            kafka.tools.StorageTool random-uuid 2>>"$OUT_FILE" | tail -n1)"
        [[ -n "$cluster_id" ]] || { log_tail 30; die "StorageTool random-uuid failed"; }
        echo "$cluster_id" > "$DATA_DIR/cluster.id"
    fi
    log "formatting $KRAFT_DIR (cluster id $cluster_id)"
    local -a extra=()
    if [[ -n "${KAFKA_FORMAT_ARGS_FILE:-}" ]]; then mapfile -t extra < "$KAFKA_FORMAT_ARGS_FILE"; fi
    if ! java -Xmx256m -cp "$LIBS/*" \
            -Dlog4j.configuration="file:$HERE/tools-log4j.properties" \
            kafka.tools.StorageTool format -t "$cluster_id" -c "$PROPS" --ignore-formatted "${extra[@]}" \
            >>"$OUT_FILE" 2>&1; then
        log_tail 30
        die "StorageTool format failed"
    fi
}

# --- commands ----------------------------------------------------------------
wait_ready() {  # wait_ready PID T0 [OUT_OFFSET]: OUT_OFFSET = size of OUT_FILE before this start
    local pid="$1" t0="$2" off="${3:-}" deadline=$(( $(date +%s) + START_TIMEOUT ))
    while (( $(date +%s) < deadline )); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log_tail 60
            rm -f "$PID_FILE"
            die "broker process $pid exited during startup (see $OUT_FILE, $LOG_DIR/server.log)"
        fi
        if { [[ -z "$off" ]] || tail -c "+$((off + 1))" "$OUT_FILE" 2>/dev/null | grep -q "Kafka Server started"; } \
                && probe >/dev/null; then
            log "ready on $HOST:$PORT (pid $pid, controller $HOST:$CONTROLLER_PORT) after $(( ($(now_ms) - t0) / 1000 ))s; $(probe)"
            return 0
        fi
        sleep 0.5
    done
    log_tail 60
    log "broker did not answer within ${START_TIMEOUT}s; stopping it"
    do_stop >/dev/null 2>&1 || true
    die "start timed out"
}

do_start() {
    local t0; t0=$(now_ms)
    local pid; pid="$(current_pid)"
    if [[ -n "$pid" ]]; then
        log "already running (pid $pid)"
        wait_ready "$pid" "$t0"
        return 0
    fi
    rm -f "$PID_FILE"
    if port_open "$PORT"; then die "port $HOST:$PORT is in use by another process (not our broker)"; fi
    if port_open "$CONTROLLER_PORT"; then die "controller port $HOST:$CONTROLLER_PORT is in use by another process"; fi

    fetch
    write_props
    format_storage

    log "starting broker: data $DATA_DIR, output $OUT_FILE"
    echo "===== $(date -u +%FT%TZ) start =====" >> "$OUT_FILE"
    local off; off=$(stat -c %s "$OUT_FILE")
    # setsid: own session, so the broker outlives the calling shell/job
    # shellcheck disable=SC2086
    setsid java $HEAP -server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
        -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
        -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
        -Dlog4j.configuration="file:$HERE/log4j.properties" -Dkafka.logs.dir="$LOG_DIR" \
        -cp "$LIBS/*" kafka.Kafka "$PROPS" >>"$OUT_FILE" 2>&1 </dev/null 8>&- 9>&- &
    pid=$!
    echo "$pid" > "$PID_FILE"
    wait_ready "$pid" "$t0" "$off"
}

do_stop() {
    local pid; pid="$(current_pid)"
    if [[ -z "$pid" ]]; then
        rm -f "$PID_FILE"
        log "not running"
    else
        local t0; t0=$(now_ms)
        log "stopping broker pid $pid (SIGTERM, up to ${STOP_TIMEOUT}s)"
        kill -TERM "$pid" 2>/dev/null || true
        local deadline=$(( $(date +%s) + STOP_TIMEOUT ))
        while kill -0 "$pid" 2>/dev/null && (( $(date +%s) < deadline )); do sleep 0.3; done
        if kill -0 "$pid" 2>/dev/null; then
            log "still alive after ${STOP_TIMEOUT}s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            while kill -0 "$pid" 2>/dev/null; do sleep 0.2; done
        fi
        rm -f "$PID_FILE"
        log "stopped in $(( ($(now_ms) - t0) / 1000 ))s"
    fi
    local i
    for i in $(seq 1 50); do
        if ! port_open "$PORT" && ! port_open "$CONTROLLER_PORT"; then return 0; fi
        sleep 0.2
    done
    die "ports $PORT/$CONTROLLER_PORT still in use after stop (another process?)"
}

do_restart() {
    do_stop
    do_start
}

do_status() {
    local pid; pid="$(current_pid)"
    if [[ -z "$pid" ]]; then
        echo "stopped (data dir $DATA_DIR)"
        return 1
    fi
    local answer
    if answer="$(probe)"; then
        echo "running pid $pid on $HOST:$PORT; $answer"
        return 0
    fi
    echo "pid $pid alive but not answering on $HOST:$PORT (starting or broken; see $OUT_FILE)"
    return 1
}

do_reset() {
    do_stop
    if [[ -d "$DATA_DIR" ]]; then
        # refuse to delete something that does not look like our data dir
        if [[ "$DATA_DIR" == "/" || "$DATA_DIR" == "$HOME" ]]; then die "refusing to delete $DATA_DIR"; fi
        if [[ -n "$(ls -A "$DATA_DIR")" && ! -e "$PROPS" && ! -d "$KRAFT_DIR" && ! -e "$OUT_FILE" ]]; then
            die "$DATA_DIR does not look like a kafka.sh data dir; not deleting it"
        fi
        rm -rf "$DATA_DIR"
        log "deleted $DATA_DIR"
    fi
}

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    fetch)   fetch "$@" ;;
    start)   with_lock 9 "$DATA_LOCK" do_start ;;
    stop)    with_lock 9 "$DATA_LOCK" do_stop ;;
    restart) with_lock 9 "$DATA_LOCK" do_restart ;;
    status)  do_status ;;
    reset)   with_lock 9 "$DATA_LOCK" do_reset ;;
    logs)    tail -n "${1:-100}" "$OUT_FILE" ;;
    run-class)
        [[ $# -ge 1 ]] || die "usage: kafka.sh run-class CLASS [ARGS...]"
        is_fetched || fetch
        java_cp "$@" ;;
    *)
        sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'
        [[ -z "$cmd" || "$cmd" == "-h" || "$cmd" == "--help" || "$cmd" == "help" ]] || exit 2 ;;
esac
