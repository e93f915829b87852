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

from .errors import ConfigError, InputError
from .layers import Layer, check_sample_shape, refuse_mask
from .registry import register_layer
from .validators import real

MODES = (0, 1)


@register_layer
class BatchNormalization(Layer):
    """Keras 1.x/2.x (reference/keras_files/layers12.py translates their configs) add:

    - `axis` (Keras's, counting the samples axis; None: 0.2.0's weights of the full
      per-sample shape): the weights have shape (input_shape[axis],) and broadcast along
      that axis (1.x and 2.x: one statistic per feature for axis=-1).
    - `variance`: the fourth weight holds a variance, not a std (1.x's "running_std" is
      the batch variance K.normalize_batch_in_training returns, 2.x's moving_variance):
      mode 0 computes `gamma * (X - mean) / sqrt(var + epsilon) + beta` (Theano's
      batch_normalization_test, TensorFlow's tf.nn.batch_normalization), mode 1 (1.x's
      samplewise) `gamma * (X - m) / (sqrt(var(X) + epsilon) + epsilon) + beta`.
    Models with either are read for prediction; training them is not supported here.
    With an `axis` (Keras 1.x/2.x's layer, supports_masking) a mask passes through,
    unapplied; 0.2.0's refused one.
    """

    config_keys = ("epsilon", "mode", "momentum")
    state_weights = ("running_mean", "running_std")
    needs_length = True  # per-timestep weights on a sequence (rnn2onnx: io_dims)

    def __init__(self, epsilon=1e-6, mode=0, momentum=0.9, weights=None, axis=None, variance=False, **kwargs):
        super().__init__(weights=weights, **kwargs)
        if mode not in MODES or isinstance(mode, bool):
            raise ConfigError(f"layer BatchNormalization: mode must be 0 (featurewise) or 1 (samplewise), got {mode!r}")
        for key, value in (("epsilon", epsilon), ("momentum", momentum)):
            real(value, "BatchNormalization", key)  # kept as given (get_config writes it back)
        if axis is not None and (isinstance(axis, bool) or not isinstance(axis, int) or axis == 0):
            raise ConfigError(f"layer BatchNormalization: axis must be a non-zero integer (0 is the samples "
                              f"axis), got {axis!r}")
        self.epsilon, self.mode, self.momentum = epsilon, int(mode), momentum
        self.axis, self.variance = axis, bool(variance)
        if axis == -1:
            self.needs_length = False  # one statistic per feature: any sequence length

    def _axis(self, rank):
        """The weights' axis in an input of `rank` (samples axis included)."""
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 0 < axis < rank:
            raise ConfigError(f"layer {self.name}: BatchNormalization axis {self.axis} is not an axis of its "
                              f"rank-{rank} input")
        return axis

    def output_shape(self, input_shape):
        if self.axis is not None:
            self._axis(len(input_shape) + 1)
        return input_shape

    def param_specs(self, input_shape):
        if self.axis is not None:
            size = input_shape[self._axis(len(input_shape) + 1) - 1]
            if size is None:
                raise ConfigError(f"layer {self.name}: BatchNormalization's axis {self.axis} is the sequence "
                                  "axis, whose length must be known (give the input an input_length)")
            shape = (size,)
        else:
            shape = tuple(input_shape)
        if any(s is None for s in shape):
            raise ConfigError(f"layer {self.name}: BatchNormalization keeps weights of the full per-sample input "
                              f"shape, which must be known; got ({', '.join('time' if s is None else str(s) for s in shape)}) "
                              "(give the first layer an input_length / input_shape with the sequence length)")
        return [("gamma", shape, "uniform"), ("beta", shape, "zero"),
                ("running_mean", shape, "zero"), ("running_std", shape, "one")]

    def broadcast(self, w, rank):
        """A weight shaped to broadcast against a rank-`rank` input."""
        if self.axis is None:
            return w
        shape = [1] * rank
        shape[self._axis(rank)] = w.shape[0]
        return w.reshape(shape)

    def _reduce(self, g):
        """A gradient of the input's shape summed to its weight's shape."""
        if self.axis is None:
            return np.sum(g, axis=0)
        keep = self._axis(g.ndim)
        return np.sum(g, axis=tuple(i for i in range(g.ndim) if i != keep))

    def output_mask(self, mask):
        return None if self.axis is None else mask

    def forward(self, X, mask=None, train=False, rng=None):
        if self.axis is None:
            refuse_mask(self, mask)
            check_sample_shape(self, X)
        elif X.ndim != len(self.input_shape) + 1:
            raise InputError(f"layer {self.name}: BatchNormalization was built for rank {len(self.input_shape) + 1} "
                             f"input, got rank {X.ndim}")
        p = {k: self.broadcast(v, X.ndim) for k, v in self.params.items()}
        eps = X.dtype.type(self.epsilon)
        if self.mode == 0:
            self._d = np.sqrt(p["running_std"] + eps) if self.variance else p["running_std"] + eps
            self._xc = X - p["running_mean"]
        else:
            m = X.mean(axis=-1, keepdims=True)
            self._xc = X - m
            var = np.mean(self._xc ** 2, axis=-1, keepdims=True)
            self._s = np.sqrt(var + eps) if self.variance else np.sqrt(var)
            self._d = self._s + eps
        self._xn = self._xc / self._d
        if train:
            if self.axis is not None or self.variance:
                raise InputError(f"layer {self.name}: training a Keras 1.x/2.x BatchNormalization is not "
                                 "supported (its prediction is)")
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
        gamma = self.broadcast(self.params["gamma"], dY.ndim)
        dgamma, dbeta = self._reduce(dY * self._xn), self._reduce(dY)
        dxn = dY * gamma
        if self.mode == 0:
            dX = dxn / self._d
            dmean = -self._reduce(dX)
            dd = -self._reduce(dxn * self._xc / self._d ** 2)  # d loss / d(the divisor)
            # the divisor is sqrt(var + eps) (d/dvar = 1 / (2 sqrt(var + eps))) or std + eps
            dstd = dd / (2 * self._reduce_view(self._d)) if self.variance else dd
        else:
            n = self._xc.shape[-1]
            ds = -np.sum(dxn * self._xc, axis=-1, keepdims=True) / self._d ** 2
            # s = sqrt(mean(xc^2) (+ eps)): ds/dxc = xc / (n s) either way
            dxc = dxn / self._d + ds * self._xc / (n * self._s)
            dX = dxc - dxc.mean(axis=-1, keepdims=True)
            dmean = dstd = np.zeros_like(self.params["gamma"])  # mode 1 never reads the running statistics
        return dX, [dgamma, dbeta, dmean, dstd]

    def _reduce_view(self, d):
        """The divisor (broadcast weight-shaped) back in the weight's shape."""
        return d if self.axis is None else d.reshape(-1)
