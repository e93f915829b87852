"""Keras 0.2.0 weight initializations by name. Shapes are (fan_in, fan_out) for 2-D."""
import numpy as np

from .errors import ConfigError
from .untrusted import quote


def _fans(shape):
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 1:
        return shape[0], shape[0]
    # 0.2.0's get_fans for more axes: fan_in = prod(shape[1:]), fan_out = shape[0]
    # (MaxoutDense's W (nb_feature, input_dim, output_dim), Convolution1D's 4-D W)
    return int(np.prod(shape[1:])), shape[0]


def _uniform(rng, shape, scale):
    return rng.uniform(-scale, scale, size=shape)


def _normal(rng, shape, std):
    return rng.normal(0.0, std, size=shape)


def orthogonal(rng, shape, scale=1.1):
    flat = (shape[0], int(np.prod(shape[1:])))
    u, _, v = np.linalg.svd(rng.normal(0.0, 1.0, flat), full_matrices=False)
    q = (u if u.shape == flat else v).reshape(shape)
    return scale * q[: shape[0], : shape[1]]


def identity(rng, shape, scale=1.0):
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ConfigError(f"init 'identity' needs a square 2-D shape, got {tuple(shape)}")
    return scale * np.identity(shape[0])


INITIALIZATIONS = {
    "uniform": lambda rng, s: _uniform(rng, s, 0.05),
    "normal": lambda rng, s: _normal(rng, s, 0.05),
    "lecun_uniform": lambda rng, s: _uniform(rng, s, np.sqrt(3.0 / _fans(s)[0])),
    "glorot_normal": lambda rng, s: _normal(rng, s, np.sqrt(2.0 / sum(_fans(s)))),
    "glorot_uniform": lambda rng, s: _uniform(rng, s, np.sqrt(6.0 / sum(_fans(s)))),
    "he_normal": lambda rng, s: _normal(rng, s, np.sqrt(2.0 / _fans(s)[0])),
    "he_uniform": lambda rng, s: _uniform(rng, s, np.sqrt(6.0 / _fans(s)[0])),
    "orthogonal": orthogonal,
    "identity": identity,
    "zero": lambda rng, s: np.zeros(s),
    "one": lambda rng, s: np.ones(s),
}


def get(identifier):
    """A function (rng, shape) -> float64 array, from a name or a callable."""
    if callable(identifier):
        return identifier
    try:
        return INITIALIZATIONS[identifier]
    except (KeyError, TypeError):
        raise ConfigError(
            f"unknown init {quote(identifier)}; accepted: {', '.join(sorted(INITIALIZATIONS))}"
        ) from None
