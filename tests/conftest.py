import pytest

from .fixtures.legacy import make_fixtures


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    """Keras 0.2.0-layout files written with h5py directly: {fixture name: path}."""
    return make_fixtures.write_all(str(tmp_path_factory.mktemp("legacy")))
