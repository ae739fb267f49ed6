"""Reliability drills: crash, restart and hostile-input runs on a real Kafka, with a verdict.

Run one with `python -m drills.<name> --help`; each is bounded in time and count, writes its
numbers as JSON and prints a summary. docs/reliability.md lists the runs and their results.
"""
