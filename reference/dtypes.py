"""The dtypes a model computes in, and where a model's dtype came from.

A model loaded from a config with no dtype named computes in float32 only until a
weights file decides (SPEC: "Which dtype a loaded model computes in"); Keras 0.2.0 wrote
its weights in Theano's floatX. Shared by the models and the file readers (reference/keras_files).
"""
import numpy as np

from .errors import ConfigError
from .untrusted import quote

DTYPES = ("float32", "float64")

# why a model computes in its dtype (`model.dtype_from`)
DTYPE_FROM_ARGUMENT = "dtype argument"
DTYPE_FROM_WEIGHTS = "from the weights file"
DTYPE_UNDECIDED = "default: no weights file"
DTYPE_NOT_IN_WEIGHTS = "default: the weights file holds no weights"


def check_dtype(dtype):
    if str(dtype) not in DTYPES:
        raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {quote(dtype)}")
    return np.dtype(dtype)
