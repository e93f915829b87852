"""The checks of the numbers layers, models and training take, one per kind: each returns
the value as a Python number or raises one sentence, "{where}: {key} must be ..., got
{value}" (the value quoted, bounded), as a ConfigError unless the caller says otherwise
(predict's batch_size is an InputError, SPEC.md)."""
import numpy as np

from .errors import ConfigError, InputError
from .untrusted import check_limit, quote


def positive_int(value, where, key, error=ConfigError, limit=None):
    """`value` as an int >= 1 (a bool is not one), at most untrusted.LIMITS[limit] when
    `limit` names one."""
    value = _integer(value, where, key, 1, "a positive integer", error)
    return value if limit is None else check_limit(value, limit, where, key, error)


def declared_shape(shape, where, time_axis=None, error=ConfigError):
    """`shape` (a per-sample input shape) with every integer entry within its limit:
    the `time_axis` entry a number of timesteps, the others widths (untrusted.LIMITS)."""
    for axis, value in enumerate(shape):
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            what = "input_length (the time axis)" if axis == time_axis else f"input_shape[{axis}]"
            check_limit(int(value), "timesteps" if axis == time_axis else "units", where, what, error)
    return shape


def input_array(value, where="input"):
    """`value` (data handed to a model) as a NumPy array; a ragged nesting of lists (rows
    of different lengths) is an InputError, not NumPy's ValueError."""
    try:
        return np.asarray(value)
    except ValueError:
        raise InputError(f"{where} is a ragged list (its rows differ in length); pad every sequence to one "
                         "length (with id 0 behind an Embedding(mask_zero=True))") from None


def non_negative_int(value, where, key, error=ConfigError):
    """`value` as an int >= 0 (a bool is not one)."""
    return _integer(value, where, key, 0, "a non-negative integer", error)


def _integer(value, where, key, low, what, error):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise error(f"{where}: {key} must be {what}, got {quote(value)}")
    return int(value)


def real(value, where, key, low=-np.inf, high=None, error=ConfigError):
    """`value` as a finite float in [low, high) (high None: no upper bound; a bool or a
    string is not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value < low or (high is not None and value >= high):
        bounds = f"in [{low}, {high})" if high is not None else f">= {low}" if low > -np.inf else "(finite)"
        raise error(f"{where}: {key} must be a number {bounds}, got {quote(value)}")
    return float(value)
