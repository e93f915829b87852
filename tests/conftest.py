import os
import random

import pytest

from .fixtures.legacy import make_fixtures

try:
    from hypothesis import seed, settings
except ImportError:  # hypothesis is a test extra; the tests that use it skip without it
    settings = None

#: Randomised tests never fail by chance: every Hypothesis test runs derandomized (the same
#: examples on every run) unless HYPOTHESIS_PROFILE=explore is set. Then the tests marked
#: with `explore` (the long fuzz runs under `slow`) draw from a fresh seed, printed in the
#: session header; HYPOTHESIS_EXPLORE_SEED=<seed> repeats a run. Every case an exploration
#: finds is kept as an explicit @example.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
EXPLORE_SEED = int(os.environ.get("HYPOTHESIS_EXPLORE_SEED") or random.SystemRandom().randrange(2 ** 32))
if settings is not None:
    settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True)
    settings.register_profile("explore", derandomize=False, database=None, deadline=None, print_blob=True)
    settings.load_profile(PROFILE)


def explore(test):
    """Under HYPOTHESIS_PROFILE=explore, `test` draws from EXPLORE_SEED (a @seed overrides
    derandomize); otherwise it is left derandomized."""
    return seed(EXPLORE_SEED)(test) if PROFILE == "explore" else test


def pytest_report_header(config):
    if PROFILE == "explore":
        return f"hypothesis: profile explore, seed {EXPLORE_SEED} (HYPOTHESIS_EXPLORE_SEED={EXPLORE_SEED} repeats it)"
    return f"hypothesis: profile {PROFILE} (derandomized)"


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    """Keras 0.2.0-layout files written with h5py directly: {fixture name: path}."""
    return make_fixtures.write_all(str(tmp_path_factory.mktemp("legacy")))
