"""Settings shared by the whole test suite."""

from hypothesis import settings

# No per-example deadline: on a loaded 2-core CI machine (multi-node tests run node processes
# beside the unit tests) a deadline is a timing assertion, and timing never decides a verdict.
settings.register_profile("gongshi", deadline=None, print_blob=True)
settings.load_profile("gongshi")
