"""Benchmarks you can rerun: the wire contract, and the pipeline against Kafka's own limits."""
