# The two commands a newcomer needs; each does its own set-up on a fresh machine.
.PHONY: demo test test-quick faults bench kafka-start kafka-stop clean

demo:            ## generate the sample city and run everything embedded (no Kafka, no Java)
	bash scripts/demo.sh

test:            ## install everything, start Kafka, run the whole suite (Kafka tests included)
	bash scripts/test.sh

test-quick:      ## the suite without the Kafka tests (no broker needed)
	bash scripts/bootstrap.sh && .venv/bin/python -m pytest -m "not kafka" -q

faults:          ## the fault-injection suite on real Kafka (docs/reliability.md); the broker must be running
	bash scripts/bootstrap.sh && .venv/bin/python -m pytest -m faults -q

bench:           ## all benchmarks (engine, pipeline, latency, event → published latency, freshness, scale; starts Kafka): one table + benchmarks/results/*.json
	bash scripts/bench.sh

kafka-start:
	bash infra/kafka/kafka.sh start

kafka-stop:
	bash infra/kafka/kafka.sh stop

clean:
	rm -rf warehouse .pytest_cache .hypothesis
