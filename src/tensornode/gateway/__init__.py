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
openai_compat.py  OpenAI chat-completions schemas and translation; schemas.py: ours
http_api.py       the chat endpoints' HTTP behaviour, framework-free
direct.py         the chat endpoints as direct routes of the coordinator's HTTP protocol
asgi.py           the raw ASGI fast path serving the chat endpoints otherwise
routes.py         FastAPI routes (docs, keys, models, status) and app wiring
"""
