"""Compute-demand planning: hardware and model profiles, a roofline model, workloads, plans."""
