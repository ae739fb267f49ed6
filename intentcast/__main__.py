"""`python -m intentcast` is the same as the `intentcast` command."""

from intentcast.cli import main

main()
