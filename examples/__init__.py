"""Example vendors built with the SDK, shipped in the package: `intentcast vendor run acme`."""
