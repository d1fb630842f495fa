# Sourced (not run) by scripts/test.sh and scripts/bench.sh, from the project root: the system
# packages (first: the bootstrap's mypyc build needs a C compiler), the Python environment and the
# Kafka jars, then a local broker if none is running -- stopped again on exit only if started here.
bash scripts/system-deps.sh
bash scripts/bootstrap.sh
started_kafka=0
if ! bash infra/kafka/kafka.sh status >/dev/null 2>&1; then
  bash infra/kafka/kafka.sh start
  started_kafka=1
fi
cleanup() { if [ "$started_kafka" = 1 ]; then bash infra/kafka/kafka.sh stop || true; fi; }
trap cleanup EXIT
