"""The reference miner: ``tensornode miner serve`` and its model backends.

``backends/`` holds the model seam (tiny, transformers, openai upstream, echo),
``batching`` the dynamic batcher, ``cache`` the LRU of deterministic answers,
``service`` the :class:`~tensornode.miner.service.MinerService` doing the work and
``app`` the thin FastAPI routes over it; ``check`` tests any miner against the contract.
Nothing here imports torch at module load.
"""
