"""The number checks every layer, model and training call shares (reference/validators.py)."""
import numpy as np
import pytest

from reference.errors import ConfigError, InputError
from reference.untrusted import QUOTE_LIMIT
from reference.validators import non_negative_int, positive_int, real


@pytest.mark.parametrize("value", [1, 7, np.int64(3), np.uint8(2)])
def test_positive_int_accepts_python_and_numpy_integers(value):
    out = positive_int(value, "Layer", "n")
    assert out == int(value) and type(out) is int


@pytest.mark.parametrize("value", [0, -1, 1.0, 1.5, "2", True, None, np.float64(2.0)])
def test_positive_int_refuses_the_rest(value):
    with pytest.raises(ConfigError, match=r"^Layer: n must be a positive integer, got "):
        positive_int(value, "Layer", "n")


def test_non_negative_int_takes_zero_and_the_caller_chooses_the_error():
    assert non_negative_int(0, "fit", "nb_epoch") == 0
    with pytest.raises(ConfigError, match=r"^fit: nb_epoch must be a non-negative integer, got -1$"):
        non_negative_int(-1, "fit", "nb_epoch")
    with pytest.raises(InputError, match=r"^predict: batch_size must be a positive integer, got 0$"):
        positive_int(0, "predict", "batch_size", InputError)


def test_real_bounds_and_types():
    assert real(0, "Dropout", "p", 0.0, 1.0) == 0.0 and type(real(np.float32(0.5), "D", "p")) is float
    assert real(-1e300, "LeakyReLU", "alpha") == -1e300
    for value in (1.0, -0.1, "0.5", False, float("nan")):
        with pytest.raises(ConfigError, match=r"^Dropout: p must be a number in \[0.0, 1.0\), got "):
            real(value, "Dropout", "p", 0.0, 1.0)
    with pytest.raises(ConfigError, match=r"^MaxNorm: m must be a number >= 0.0, got inf$"):
        real(float("inf"), "MaxNorm", "m", 0.0)
    with pytest.raises(ConfigError, match=r"^L1L2: l1 must be a number \(finite\), got -inf$"):
        real(-np.inf, "L1L2", "l1")


def test_the_quoted_value_is_bounded():
    with pytest.raises(ConfigError) as err:
        positive_int("x" * 10 * QUOTE_LIMIT, "Layer", "n")
    assert len(str(err.value)) < 2 * QUOTE_LIMIT
