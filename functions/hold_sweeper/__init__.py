"""Lambda: the scheduled hold sweeper."""
