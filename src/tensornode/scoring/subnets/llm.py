"""The LLM subnet (text generation, QA): six verifiable families and open questions.

A round of 8: two open questions and one of each verifiable family. Weights are the
miner guide's 0.4 quality / 0.3 speed / 0.2 availability / 0.1 participation.
"""

from __future__ import annotations

from tensornode.scoring.schemas import ComponentWeights
from tensornode.scoring.subnets import Subnet

SUBNET = Subnet(
    name="llm",
    mix={
        "open": 2.0,
        "arithmetic": 1.0,
        "counting": 1.0,
        "sorting": 1.0,
        "strings": 1.0,
        "extraction": 1.0,
        "units": 1.0,
    },
    challenges_per_round=8,
    weights=ComponentWeights(quality=0.4, speed=0.3, availability=0.2, participation=0.1),
    pass_threshold=0.5,
)
