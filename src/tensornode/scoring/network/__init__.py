"""Scoring inside the network: rounds run against the miner registry, results stored
with their evidence, per-epoch scores and their "why", the leaderboard. (Epoch
settlement and rewards live in :mod:`tensornode.epochs`.)

* :mod:`.models` -- tables ``validators``, ``validation_rounds``, ``validation_results``;
* :mod:`.service` -- the validator registry, targets, storing and re-grading rounds;
* :mod:`.scores` / :mod:`.reasons` -- per-miner components over a window and the "why";
* :mod:`.reads` -- leaderboard, a miner's scores and evidence;
* :mod:`.loop` -- the in-process validator loop (burst mode);
* :mod:`.runtime` -- what an app holds (probe client, scorers, loops) and its lifespan;
* :mod:`.remote` -- ``tensornode validator run``: a separate, signed-in validator;
* :mod:`.routes` -- ``/validation/*``, ``/miners/{id}/scores``, ``/leaderboard``.
"""
