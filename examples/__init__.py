"""Example vendors built with the SDK; run one with `intentcast vendor run examples/acme.py`."""
