"""Keras 0.2.0's BatchNormalization (keras/layers/normalization.py).

Weights `[gamma, beta, running_mean, running_std]`, each of the full per-sample input
shape (per timestep and feature for a sequence, whose length must then be known);
gamma starts uniform ±0.05, beta and running_mean at 0, running_std at 1.

- mode 0: `gamma * (X - running_mean) / (running_std + epsilon) + beta`, in training and
  prediction alike (0.2.0 never normalised by the batch's own statistics).
- mode 1: each sample over its last axis by its own mean and (population) std:
  `gamma * (X - m) / (std + epsilon) + beta`.

In both modes a training step moves the running statistics (0.2.0's `updates`, not its
`params`: the optimizer, the regularizers and the constraints never touch them):
`mean <- momentum*mean + (1-momentum)*mean(X, axis=0)`,
`std <- momentum*std + (1-momentum)*sqrt(mean((X - mean(X, axis=0))**2 + epsilon, axis=0))`.
They are still `get_weights()` entries 2 and 3, and params 2 and 3 of the layer's HDF5
group (a Sequential's `save_weights` wrote them).
"""
import numpy as np

from .errors import ConfigError
from .layers import Layer, check_sample_shape, refuse_mask
from .registry import register_layer
from .validators import real

MODES = (0, 1)


@register_layer
class BatchNormalization(Layer):
    config_keys = ("epsilon", "mode", "momentum")
    state_weights = ("running_mean", "running_std")
    needs_length = True  # per-timestep weights on a sequence (rnn2onnx: io_dims)

    def __init__(self, epsilon=1e-6, mode=0, momentum=0.9, weights=None, **kwargs):
        super().__init__(weights=weights, **kwargs)
        if mode not in MODES or isinstance(mode, bool):
            raise ConfigError(f"layer BatchNormalization: mode must be 0 (featurewise) or 1 (samplewise), got {mode!r}")
        for key, value in (("epsilon", epsilon), ("momentum", momentum)):
            real(value, "BatchNormalization", key)  # kept as given (get_config writes it back)
        self.epsilon, self.mode, self.momentum = epsilon, int(mode), momentum

    def param_specs(self, input_shape):
        shape = tuple(input_shape)
        if any(s is None for s in shape):
            raise ConfigError(f"layer {self.name}: BatchNormalization keeps weights of the full per-sample input "
                              f"shape, which must be known; got ({', '.join('time' if s is None else str(s) for s in shape)}) "
                              "(give the first layer an input_length / input_shape with the sequence length)")
        return [("gamma", shape, "uniform"), ("beta", shape, "zero"),
                ("running_mean", shape, "zero"), ("running_std", shape, "one")]

    def forward(self, X, mask=None, train=False, rng=None):
        refuse_mask(self, mask)
        p = self.params
        check_sample_shape(self, X)
        eps = X.dtype.type(self.epsilon)
        if self.mode == 0:
            self._d = p["running_std"] + eps
            self._xc = X - p["running_mean"]
        else:
            m = X.mean(axis=-1, keepdims=True)
            self._xc = X - m
            self._s = np.sqrt(np.mean(self._xc ** 2, axis=-1, keepdims=True))
            self._d = self._s + eps
        self._xn = self._xc / self._d
        if train:
            batch_mean = X.mean(axis=0)
            batch_std = np.mean((X - batch_mean) ** 2 + eps, axis=0) ** 0.5
            mom = X.dtype.type(self.momentum)
            self._updates = {"running_mean": mom * p["running_mean"] + (1 - mom) * batch_mean,
                             "running_std": mom * p["running_std"] + (1 - mom) * batch_std}
        return p["gamma"] * self._xn + p["beta"]

    def state_updates(self):
        """{running_mean, running_std} after the last training-mode forward."""
        return self._updates

    def backward(self, dY):
        gamma = self.params["gamma"]
        dgamma, dbeta = np.sum(dY * self._xn, axis=0), np.sum(dY, axis=0)
        dxn = dY * gamma
        if self.mode == 0:
            dX = dxn / self._d
            dmean = -np.sum(dX, axis=0)
            dstd = -np.sum(dxn * self._xc / self._d ** 2, axis=0)
        else:
            n = self._xc.shape[-1]
            ds = -np.sum(dxn * self._xc, axis=-1, keepdims=True) / self._d ** 2
            dxc = dxn / self._d + ds * self._xc / (n * self._s)
            dX = dxc - dxc.mean(axis=-1, keepdims=True)
            dmean = dstd = np.zeros_like(gamma)  # mode 1 never reads the running statistics
        return dX, [dgamma, dbeta, dmean, dstd]
