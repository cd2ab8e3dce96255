"""The on-machine tuner: its search and its cache."""
