"""Keras 0.2.0's weight constraints (keras/constraints.py), applied by the optimizer to
each updated weight (`p <- c(p_new)`), exactly as 0.2.0's formulas:

- `MaxNorm(m=2)`: norms = sqrt(sum(p**2, axis=0)); p * clip(norms, 0, m) / (1e-7 + norms)
  (axis 0: per output unit of a Dense W; note it shrinks p by norms/(1e-7+norms) even
  below m, as 0.2.0 did).
- `NonNeg()`: p * (p >= 0). (0.2.0's own NonNeg wraps a symbolic expression in
  theano.shared, so no 0.2.0 model using it could be compiled; its intended formula is
  applied here.)
- `UnitNorm()`: p / sqrt(sum(p**2, axis=-1, keepdims=True)).

Configs write `{"name": "MaxNorm", "m": …}`, `{"name": "NonNeg"}`, `{"name": "UnitNorm"}`;
0.2.0's lower-case aliases (maxnorm, nonneg, unitnorm, identity) are read too.
"""
import numpy as np

from .registry import from_table
from .validators import real


class Constraint:
    def __call__(self, p):
        return p

    def get_config(self):
        return {"name": type(self).__name__}

    def __repr__(self):
        return f"{type(self).__name__}()"


class MaxNorm(Constraint):
    def __init__(self, m=2):
        real(m, "MaxNorm", "m", 0.0)  # kept as given (get_config writes it back)
        self.m = m

    def __call__(self, p):
        norms = np.sqrt(np.sum(p * p, axis=0))
        desired = np.clip(norms, 0, self.m)
        return p * (desired / (1e-7 + norms))

    def get_config(self):
        return {"name": "MaxNorm", "m": self.m}


class NonNeg(Constraint):
    def __call__(self, p):
        return p * (p >= 0)


class UnitNorm(Constraint):
    def __call__(self, p):
        return p / np.sqrt(np.sum(p ** 2, axis=-1, keepdims=True))


identity, maxnorm, nonneg, unitnorm = Constraint, MaxNorm, NonNeg, UnitNorm

NAMES = {"MaxNorm": MaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm, "Constraint": Constraint,
         "maxnorm": maxnorm, "nonneg": nonneg, "unitnorm": unitnorm, "identity": identity}


def get(identifier, where):
    """The constraint `identifier` (name, {"name": …} mapping, instance) names; None stays None."""
    if identifier is None or isinstance(identifier, Constraint):
        return identifier
    return from_table(NAMES, "constraint", identifier, where)
