"""Results: the CSV, tables, plots and the ladder's REPORT.md."""
