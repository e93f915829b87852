import numpy as np
import pytest


@pytest.fixture
def rng(request):
    """A generator seeded from the test's id, so every case is reproducible."""
    seed = sum(ord(ch) * (i + 1) for i, ch in enumerate(request.node.nodeid)) % (2 ** 32)
    return np.random.default_rng(seed)


def pytest_terminal_summary(terminalreporter):
    from .helpers import WORST

    if WORST:
        terminalreporter.write_sep("-", "worst errors against the independent oracle")
        for label, value in sorted(WORST.items()):
            terminalreporter.write_line(f"{label:<40} {value:.2e}")
