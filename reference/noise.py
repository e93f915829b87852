"""Keras 0.2.0's noise.py: GaussianNoise and GaussianDropout.

Both are MaskedLayers in 0.2.0: the mask passes through unchanged. In training the
noise is drawn from the model's rng (as Dropout's masks are); at prediction both are
the identity.
"""
import numpy as np

from .layers import MaskedLayer
from .registry import register_layer
from .validators import real


@register_layer
class GaussianNoise(MaskedLayer):
    """Training: X + N(0, sigma^2) noise, drawn anew at every step; prediction: X."""

    config_keys = ("sigma",)

    def __init__(self, sigma, **kwargs):
        super().__init__(**kwargs)
        self.sigma = real(sigma, "GaussianNoise", "sigma", 0.0)

    def forward(self, X, mask=None, train=False, rng=None):
        if not train or self.sigma == 0:
            return X
        return X + rng.normal(0.0, self.sigma, size=X.shape).astype(X.dtype)

    def backward(self, dY):
        return dY, []


@register_layer
class GaussianDropout(MaskedLayer):
    """Training: X times N(1, p / (1 - p)) noise (p is the drop probability, as Dropout's);
    prediction: X."""

    config_keys = ("p",)

    def __init__(self, p, **kwargs):
        super().__init__(**kwargs)
        self.p = real(p, "GaussianDropout", "p", 0.0, 1.0)

    def forward(self, X, mask=None, train=False, rng=None):
        if not train:
            self._scale = None
            return X
        self._scale = rng.normal(1.0, np.sqrt(self.p / (1.0 - self.p)), size=X.shape).astype(X.dtype)
        return X * self._scale

    def backward(self, dY):
        return (dY if self._scale is None else dY * self._scale), []
