"""Statistics and gates: confidence intervals, release gates, early verdicts, the paired
comparison with a baseline, and the run's one-line verdict."""
