"""The gateway: users' prompts routed to the best available miners.

routing.py        which miner serves a request (pure: scores, latency, capacity)
failover.py       circuit breaker and the retry policy (which failures retry)
upstream.py       the one pooled HTTP client that talks to miners
pool.py           the candidate set, refreshed from the database in the background
service.py        ``Gateway``: chat without HTTP (routing + failover + recording)
recorder.py       per-miner metrics, batched into the database and Prometheus
keys.py           consumer API keys (sha256-hashed, cached lookups)
ratelimit.py      per-key token buckets
openai_compat.py  OpenAI chat-completions schemas and translation
routes.py         ``/api/chat``, ``/v1/*``, ``/gateway/keys`` (thin)
"""
