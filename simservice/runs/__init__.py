"""Running experiments: replications, paired comparisons of scenarios, sweeps and their cache."""
