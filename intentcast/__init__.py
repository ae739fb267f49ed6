"""The `intentcast` command line: a thin layer over `broker`, `agents` and `schemas`."""
