"""Runtimes answer "how a miner runs" on a Host: builtin (tensornode miner serve) or docker."""
