"""The stream processors, one per file; each handles one incoming record at a time."""
