"""Ingestion: parse sources, check the event contract, detect changes, produce to Kafka.

The event contract itself (JSON Schema and the per-event validator every path shares) is in
:mod:`ingestion.contract`.
"""
