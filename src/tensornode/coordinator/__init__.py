"""The coordinator: REST API, VM lifecycle, deployments as background jobs, miner registry."""
