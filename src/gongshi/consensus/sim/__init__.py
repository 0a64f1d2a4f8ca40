"""Deterministic, seeded, single-threaded simulation of a consensus cluster.

One `random.Random(seed)` draws the scenario's options and then every delay, loss, crash and
Byzantine choice, so `(seed, options, commit)` replays a run exactly (the later Byzantine
behaviours are assigned by a second PRNG derived from the seed: `options.FIRST_BEHAVIOURS`).
See `cluster.py`; Byzantine behaviours: `adversary.py`.
"""
