"""Health probes, uptime accounting, auto-restart with backoff, Prometheus metrics."""
