"""The gateway: users' prompts routed to the best available miners.

routing.py        which miner serves a request (pure: scores, latency, capacity)
failover.py       circuit breaker and which upstream failures retry elsewhere
http1.py          the lean keep-alive HTTP/1.1 client to plain-http miners
upstream.py       the one upstream client (http1 for http, httpx for https)
pool.py           the candidate set, refreshed from the database in the background
service.py        ``Gateway``: chat without HTTP (admission, routing, failover, recording)
recorder.py       per-miner metrics, batched into the database, and Prometheus
keys.py           consumer API keys (sha256-hashed, cached lookups); models.py: the table
ratelimit.py      per-key token buckets
schemas.py        our wire shapes (OpenAI's: tensornode/openai_compat.py)
http_api.py       the chat endpoints' HTTP behaviour, framework-free
streaming.py      streamed answers: open a miner's stream with failover, relay it
routes.py         FastAPI routes (chat, keys, models, status) and app wiring
"""
