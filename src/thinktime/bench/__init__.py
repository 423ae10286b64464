"""Scaling harness: sweeps of models × strategies over a task, stored sample by sample in SQLite,
with pool-derived curves (pass@k, maj@k), tables and plots. See `thinktime bench`."""
