# The two commands a newcomer needs; each does its own set-up on a fresh machine.
.PHONY: demo test test-quick bench kafka-start kafka-stop clean

demo:            ## generate the sample city and run everything embedded (no Kafka, no Java)
	bash scripts/demo.sh

test:            ## install everything, start Kafka, run the whole suite (Kafka tests included)
	bash scripts/test.sh

test-quick:      ## the suite without the Kafka tests (no broker needed)
	bash scripts/bootstrap.sh && .venv/bin/python -m pytest -m "not kafka" -q

bench:           ## the rules-engine benchmark (prints its figures)
	bash scripts/bootstrap.sh && .venv/bin/python -m benchmarks.engine

kafka-start:
	bash infra/kafka/kafka.sh start

kafka-stop:
	bash infra/kafka/kafka.sh stop

clean:
	rm -rf warehouse .pytest_cache .hypothesis
