"""Measuring: the harness engine, timing, races, the correctness check, peaks, accuracy, the machine's description."""
