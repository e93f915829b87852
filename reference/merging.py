"""The merge layer of a Keras 1.x/2.x functional model: one layer called on a list of
tensors (keras/engine/topology.py `Merge` / `merge()` at 1.x, keras/layers/merge.py at 2.x).

Keras 1.x's `Merge(mode=...)` and 2.x's Concatenate, Add, Subtract, Multiply, Average,
Maximum, Minimum and Dot are all this one class (reference/keras_files/functional.py
translates their configs). What each computes, checked at the tags 1.2.2, 2.1.6, 2.3.1:

- sum / mul / ave / max / min: chained two at a time in input order (`s = x0; s += x1; ...`;
  ave divides the sum by the count), so float rounding is Keras's. 2.x broadcasts inputs of
  one rank whose axes are equal or 1; inputs of different ranks (2.x reshapes them) are
  refused here.
- sub (2.x Subtract): x0 - x1, exactly two inputs.
- concat: along `concat_axis` (Keras counts the batch as axis 0; -1 is the last).
- dot: K.batch_dot(x0, x1, axes), per sample the tensordot over one axis of each input;
  a result of one value per sample has shape (batch, 1). `normalize` (2.x Dot) divides
  each input first by its L2 norm along its dot axis, sqrt(max(sum x^2, epsilon)):
  epsilon is the backend's (Theano K.epsilon() = 1e-7, TensorFlow's l2_normalize 1e-12).
- cos (Keras 1.x's Merge mode 'cos', inputs (batch, n)): the dot over the dot axes divided by
  max(sqrt(x0.x0 * x1.x1), epsilon) (K.epsilon() = 1e-7), then an axis inserted at 1: Keras
  1.x's tensor is (batch, 1, 1), although its declared output shape is (batch, 1); the
  reference computes what Keras's predict returns. Sequences (rank > 2) are refused.

Masks (compute_mask at the tags): 2.x `_Merge` (every elementwise mode) and 1.x Merge
sum/mul/ave hand on the AND of the masks they get (None when none is masked);
concat (1.x Merge and 2.x Concatenate alike) expands each mask to its input's rank
(an unmasked input counts as all ones), concatenates them along the concat axis and
ANDs over the last axis: on the feature axis that is the AND of the masks, on the time
axis the masks joined in time. dot, cos: no mask. Keras 1.x's Merge 'max' raises when any
input is masked (`refuse_masks=True`: the model could not be built in Keras).
Masks here are float 0/1 arrays of shape (batch, time), as every reference layer's.
"""
import numpy as np

from .containers import merge_outputs, split_merge_gradient
from .errors import ConfigError, InputError
from .layers import Layer
from .registry import register_layer
from .untrusted import quote

MODES = ("concat", "sum", "mul", "ave", "max", "min", "sub", "dot", "cos")
ELEMENTWISE = ("sum", "mul", "ave", "max", "min", "sub")


def _int(value, what):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{what} must be an integer, got {quote(value)}")
    return int(value)


@register_layer
class MergeLayer(Layer):
    """Merges the outputs of two or more layers of a functional model (see the module).

    mode: one of MODES; concat_axis: the axis of concat (batch = 0, never merged); dot_axes:
    an axis or [axis of input 0, axis of input 1] of dot and cos (batch = 0 excluded;
    negative counts from the last); normalize, normalize_epsilon: 2.x Dot(normalize=True)
    (normalize_epsilon is cos's epsilon as well);
    refuse_masks: Keras 1.x's Merge 'max', which cannot take masked inputs."""

    config_keys = ("mode", "concat_axis", "dot_axes", "normalize", "normalize_epsilon", "refuse_masks")
    nb_outputs = 1

    def __init__(self, mode="sum", concat_axis=-1, dot_axes=-1, normalize=False, normalize_epsilon=1e-7,
                 refuse_masks=False, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ConfigError(f"unknown merge mode {quote(mode)}; accepted: {', '.join(MODES)}")
        self.mode = mode
        self.concat_axis = _int(concat_axis, "concat_axis")
        if self.concat_axis == 0:
            raise ConfigError("concat_axis 0 is the batch axis; a merge concatenates along another axis")
        axes = list(dot_axes) if isinstance(dot_axes, (list, tuple)) else [dot_axes, dot_axes]
        if len(axes) != 2:
            raise ConfigError(f"dot_axes is one axis or two (one per input), got {quote(dot_axes)}")
        self.dot_axes = [_int(a, "dot_axes") for a in axes]
        if 0 in self.dot_axes:
            raise ConfigError("dot_axes 0 is the batch axis; a dot product runs along another axis")
        if not isinstance(normalize, bool):
            raise ConfigError(f"normalize must be true or false, got {quote(normalize)}")
        self.normalize = normalize
        self.normalize_epsilon = float(normalize_epsilon)
        if not self.normalize_epsilon > 0:
            raise ConfigError(f"normalize_epsilon must be positive, got {quote(normalize_epsilon)}")
        self.refuse_masks = bool(refuse_masks)
        self.name = "merge"

    @property
    def nb_inputs(self):
        """How many tensors a call takes: 2 for sub and dot, else None (any number >= 2)."""
        return 2 if self.mode in ("sub", "dot", "cos") else None

    # -- shapes -----------------------------------------------------------------------
    def _check_count(self, n):
        if n < 2:
            raise ConfigError(f"a merge ({self.mode}) takes a list of two or more inputs, got {n}")
        if self.nb_inputs is not None and n != self.nb_inputs:
            raise ConfigError(f"a merge ({self.mode}) takes exactly {self.nb_inputs} inputs, got {n}")

    def _dot_axes(self, ranks):
        """The dot axes as per-sample axes (batch excluded) of inputs of per-sample `ranks`."""
        out = []
        for axis, rank in zip(self.dot_axes, ranks):
            full = axis % (rank + 1) if axis < 0 else axis
            if not 1 <= full <= rank:
                raise ConfigError(f"dot axis {axis} does not fit an input of rank {rank + 1}")
            out.append(full - 1)
        return out

    def output_shape(self, input_shape):
        """Per-sample output shape of per-sample input shapes (a list of tuples; None: free)."""
        if not isinstance(input_shape, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in input_shape):
            raise ConfigError("a merge layer merges the outputs of several layers of a functional model: "
                              f"it takes a list of input shapes, got {quote(input_shape)}")
        shapes = [tuple(s) for s in input_shape]
        self._check_count(len(shapes))
        if self.mode == "concat":
            from .containers import merged_shape
            return merged_shape(shapes, "concat", self.concat_axis)
        if self.mode == "cos" and any(len(s) != 1 for s in shapes):
            raise ConfigError(f"merge mode 'cos' of inputs of per-sample shapes {shapes[0]} and {shapes[1]} is not "
                              "read (Keras 1.x's cosine of sequences broadcasts their norms); it takes (batch, n) inputs")
        if self.mode in ("dot", "cos"):
            a0, a1 = self._dot_axes([len(s) for s in shapes])
            d0, d1 = shapes[0][a0], shapes[1][a1]
            if d0 is not None and d1 is not None and d0 != d1:
                raise ConfigError(f"dot along axes {self.dot_axes} needs equal sizes, got shapes "
                                  f"{shapes[0]} and {shapes[1]}")
            out = shapes[0][:a0] + shapes[0][a0 + 1:] + shapes[1][:a1] + shapes[1][a1 + 1:]
            return (1, 1) if self.mode == "cos" else out or (1,)
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise ConfigError(f"merge mode {self.mode!r} of inputs of different ranks is not supported, got "
                              f"{', '.join(str(s) for s in shapes)}")
        out = list(shapes[0])
        for s in shapes[1:]:
            for i, (a, b) in enumerate(zip(out, s)):
                if a is None or b is None:  # a free axis stays free (Keras's shape rule)
                    out[i] = None
                elif a == 1:
                    out[i] = b
                elif b != 1 and a != b:
                    raise ConfigError(f"merge mode {self.mode!r} needs inputs of one shape (or axes of size 1), got "
                                      f"{', '.join(str(s) for s in shapes)}")
        return tuple(out)

    def build(self, input_shape, dtype, rng, initialise=True):
        self.output_shape(input_shape)  # refuses what it cannot merge
        self.input_shape = tuple(tuple(s) for s in input_shape)
        self.dtype = np.dtype(dtype)
        self._specs = []
        self.params = {}
        self.built = True

    # -- masks ------------------------------------------------------------------------
    def output_mask(self, mask):
        """The mask handed on, from the list of the inputs' masks (see the module)."""
        masks = list(mask) if isinstance(mask, (list, tuple)) else []
        if all(m is None for m in masks) or self.mode in ("dot", "cos"):
            return None
        if self.refuse_masks:
            raise InputError(f"Keras 1.x's Merge mode {self.mode!r} cannot take masked inputs (Keras refuses to "
                             "build such a model)")
        if self.mode != "concat":
            out = None
            for m in masks:
                if m is not None:
                    out = m if out is None else out * m
            return out
        ranks = [len(s) for s in self.input_shape]
        axis = self.concat_axis % (ranks[0] + 1)
        if any(m is not None and r != 2 for m, r in zip(masks, ranks)):
            raise InputError("a masked input of a concatenation must be a sequence (batch, time, features)")
        if axis == 2:  # the feature axis: the AND of the masks
            out = None
            for m in masks:
                if m is not None:
                    out = m if out is None else out * m
            return out
        # the time axis: the masks joined in time; an unmasked input counts as ones of its
        # width, which Keras can concatenate only when that width is 1
        parts = []
        for m, X in zip(masks, self._inputs):
            if m is None:
                if X.shape[-1] != 1:
                    raise InputError("Keras cannot concatenate the masks of masked and unmasked sequences in "
                                     "time unless the unmasked ones have width 1")
                m = np.ones(X.shape[:2], dtype=self.dtype)
            parts.append(m)
        return np.concatenate(parts, axis=1)

    # -- computation ------------------------------------------------------------------
    def _normalized(self, X, axis):
        norm = np.sqrt(np.maximum(np.sum(X * X, axis=axis, keepdims=True), self.normalize_epsilon))
        return X / norm, norm

    def _einsum(self, shapes):
        """Einsum subscripts (x0, x1, out) of the dot of inputs of full shapes `shapes`."""
        letters = iter("cdefghijklmnopqrstuvwxy")
        a0, a1 = self._dot_axes([len(s) - 1 for s in shapes])
        s0 = ["b"] + [next(letters) for _ in shapes[0][1:]]
        s1 = ["b"] + [next(letters) for _ in shapes[1][1:]]
        s0[a0 + 1] = s1[a1 + 1] = "z"
        out = [c for c in s0 if c != "z"] + [c for c in s1[1:] if c != "z"]
        return "".join(s0), "".join(s1), "".join(out)

    def forward(self, X, mask=None, train=False, rng=None):
        Xs = [np.asarray(x) for x in X]
        self._check_count(len(Xs))
        if len({len(x) for x in Xs}) != 1:
            raise InputError(f"layer {self.name}: the merged inputs must have one batch size, got "
                             f"{[len(x) for x in Xs]}")
        self._inputs = Xs
        mode = self.mode
        if mode == "cos":  # (batch, n) inputs: Keras 1.x's batch_dot of them is (batch, 1)
            x0, x1 = Xs
            dot = np.sum(x0 * x1, axis=1, keepdims=True)
            self._cos_norm = np.sqrt(np.sum(x0 * x0, axis=1, keepdims=True) * np.sum(x1 * x1, axis=1, keepdims=True))
            self._cos_dot = dot
            return (dot / np.maximum(self._cos_norm, self.normalize_epsilon))[:, :, None]
        if mode == "dot":
            s0, s1, out = self._einsum([x.shape for x in Xs])
            x0, x1 = Xs
            if self.normalize:
                a0, a1 = (s.index("z") for s in (s0, s1))
                (x0, self._norm0), (x1, self._norm1) = self._normalized(x0, a0), self._normalized(x1, a1)
            self._dot_inputs = (x0, x1)
            Y = np.einsum(f"{s0},{s1}->{out}", x0, x1)
            return Y.reshape(len(Y), 1) if Y.ndim == 1 else Y
        if mode == "concat":
            return merge_outputs(Xs, "concat", self.concat_axis)
        if mode in ("sum", "mul", "ave"):
            return merge_outputs(Xs, mode, None)
        if mode == "sub":
            return Xs[0] - Xs[1]
        op = np.maximum if mode == "max" else np.minimum
        Y = Xs[0]
        for x in Xs[1:]:
            Y = op(Y, x)
        return Y

    def backward(self, dY):
        """([gradient of each input], []) for the last forward (a merge has no weights)."""
        Xs, mode = self._inputs, self.mode
        if mode == "cos":
            x0, x1 = Xs
            s, p = self._cos_norm, self._cos_dot
            g = dY[:, :, 0]
            above = s > self.normalize_epsilon
            denominator = np.maximum(s, self.normalize_epsilon)
            a0, a1 = np.sum(x0 * x0, axis=1, keepdims=True), np.sum(x1 * x1, axis=1, keepdims=True)
            safe = np.where(above, s, 1.0)
            d0 = g * (x1 / denominator - np.where(above, p * a1 * x0 / safe ** 3, 0.0))
            d1 = g * (x0 / denominator - np.where(above, p * a0 * x1 / safe ** 3, 0.0))
            return [d0, d1], []
        if mode == "dot":
            s0, s1, out = self._einsum([x.shape for x in Xs])
            x0, x1 = self._dot_inputs
            dY = dY.reshape(len(dY)) if len(out) == 1 else dY
            d0 = np.einsum(f"{out},{s1}->{s0}", dY, x1)
            d1 = np.einsum(f"{out},{s0}->{s1}", dY, x0)
            if self.normalize:
                d0 = self._normalize_backward(d0, x0, self._norm0, s0.index("z"))
                d1 = self._normalize_backward(d1, x1, self._norm1, s1.index("z"))
            return [d0, d1], []
        if mode == "concat":
            return split_merge_gradient(dY, Xs, "concat", self.concat_axis), []
        if mode in ("sum", "mul", "ave"):
            parts = split_merge_gradient(dY, [np.broadcast_to(x, dY.shape) for x in Xs], mode, None)
        elif mode == "sub":
            parts = [dY, -dY]
        else:  # max/min: the gradient goes to the input that won (the first of equal ones)
            op = np.maximum if mode == "max" else np.minimum
            best = Xs[0]
            for x in Xs[1:]:
                best = op(best, x)
            taken, parts = np.zeros(dY.shape, dtype=bool), []
            for x in Xs:
                win = (np.broadcast_to(x, dY.shape) == best) & ~taken
                taken |= win
                parts.append(dY * win)
        return [_unbroadcast(p, x.shape) for p, x in zip(parts, Xs)], []

    def _normalize_backward(self, d, x_hat, norm, axis):
        """Gradient through x_hat = x / sqrt(max(sum x^2, eps)) along `axis`."""
        inside = np.sum((x_hat * norm) ** 2, axis=axis, keepdims=True) > self.normalize_epsilon
        projected = d - x_hat * np.sum(d * x_hat, axis=axis, keepdims=True)
        return np.where(inside, projected, d) / norm


def _unbroadcast(g, shape):
    """Sum a gradient of a broadcast result back to an input of `shape` (same rank)."""
    axes = tuple(i for i, (a, b) in enumerate(zip(shape, g.shape)) if a == 1 and b != 1)
    return np.sum(g, axis=axes, keepdims=True) if axes else np.asarray(g)
