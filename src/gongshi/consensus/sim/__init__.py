"""Deterministic, seeded, single-threaded simulation of a consensus cluster.

One `random.Random(seed)` draws the scenario's options and then every delay, loss, crash and
Byzantine choice, so `(seed, options, commit)` replays a run exactly (the later Byzantine
behaviours and the epoch faults come from PRNGs derived from the seed: `options.py`).
See `cluster.py`; Byzantine behaviours: `adversary.py`.
"""
