"""The studies behind experiments/: one module per study, its logic apart from its command line."""
