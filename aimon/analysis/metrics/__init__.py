"""Metrics that every question shares: latency, error rates, traffic and feedback."""
