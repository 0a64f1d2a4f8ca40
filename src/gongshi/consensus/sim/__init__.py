"""Deterministic, seeded, single-threaded simulation of a consensus cluster.

One `random.Random(seed)` draws the scenario's options and then every delay, loss, crash and
Byzantine choice, so `(seed, options, commit)` replays a run exactly. See `cluster.py`.
"""
