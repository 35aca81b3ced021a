"""What a run reports: KPIs from the records, the output files and the figures."""
