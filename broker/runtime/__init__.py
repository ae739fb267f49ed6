"""The processors' runtime: the one layer between faust-streaming and the handlers.

See docs/reliability.md.
"""
