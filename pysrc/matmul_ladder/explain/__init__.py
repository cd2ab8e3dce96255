"""Why each rung pays: counters (cachegrind), disassembly, verdicts and their plots."""
