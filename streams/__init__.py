"""Junheng streams: the Faust app on Kafka and the embedded in-process driver, over one shared processing core."""
