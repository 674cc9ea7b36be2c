"""Providers answer "where a miner runs": each gives VMs and a Host to run commands on."""
