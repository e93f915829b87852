"""Keras 0.2.0's `Merge` (keras/layers/core.py) as the first layer of a Sequential.

Each branch is a Sequential (or a Merge) with its own input(s); the model takes one
array per leaf branch, in branch order (a nested Merge's inputs flattened in place).
The branches' outputs are summed, multiplied, averaged or concatenated; the mask is
dropped (0.2.0's `Merge.get_output_mask` is None). Its weights are the branches'
`get_weights()` in branch order, and the HDF5 file stores them as one group.
"""
import numpy as np

from .errors import ConfigError, InputError
from .layers import Layer
from .models import Sequential, check_dtype
from .untrusted import quote

MERGE_MODES = ("sum", "mul", "ave", "concat")


class Merge(Layer):
    def __init__(self, layers, mode="sum", concat_axis=-1):
        super().__init__()
        layers = list(layers) if isinstance(layers, (list, tuple)) else layers
        if not isinstance(layers, list) or len(layers) < 2:
            raise ConfigError("a Merge needs a list of two or more branches (Sequentials or Merges), "
                              f"got {quote(layers)}")
        for i, branch in enumerate(layers):
            if not isinstance(branch, (Sequential, Merge)):
                raise ConfigError(f"Merge branch {i}: a branch is a Sequential or a Merge, got {type(branch).__name__}")
        if mode not in MERGE_MODES:
            raise ConfigError(f"unknown merge mode {quote(mode)}; accepted: {', '.join(MERGE_MODES)}")
        if isinstance(concat_axis, bool) or not isinstance(concat_axis, (int, np.integer)) or concat_axis == 0:
            raise ConfigError(f"Merge concat_axis must be a non-zero integer (axis 0 is the batch), "
                              f"got {quote(concat_axis)}")
        self.layers, self.mode, self.concat_axis = layers, mode, int(concat_axis)
        if self.built:
            self.output_shape(None)  # branches that cannot be merged: refused now

    # -- structure ----------------------------------------------------------------------
    @property
    def built(self):
        return all(all(layer.built for layer in b.layers) if isinstance(b, Sequential) else b.built
                   for b in self.layers)

    @built.setter
    def built(self, value):  # Layer.__init__ sets it; a Merge is built when its branches are
        pass

    @staticmethod
    def _nb_inputs(branch):
        if isinstance(branch, Merge):
            return branch.nb_inputs
        first = branch.layers[0] if branch.layers else None
        return first.nb_inputs if isinstance(first, Merge) else 1

    @property
    def nb_inputs(self):
        """How many arrays the model takes (one per leaf branch)."""
        return sum(self._nb_inputs(b) for b in self.layers)

    def _split(self, items, counts):
        out, start = [], 0
        for n in counts:
            out.append(items[start:start + n])
            start += n
        return out

    @property
    def input_shape(self):
        return tuple(b.input_shape for b in self.layers)

    @input_shape.setter
    def input_shape(self, value):
        pass

    def _branch_output_shape(self, branch):
        return branch.output_shape(None) if isinstance(branch, Merge) else branch.output_shape

    def output_shape(self, input_shape):
        shapes = [tuple(self._branch_output_shape(b)) for b in self.layers]
        if self.mode != "concat":
            if any(s != shapes[0] for s in shapes):
                raise ConfigError(f"Merge mode {self.mode!r} needs branches of one output shape, got "
                                  f"{', '.join(str(s) for s in shapes)}")
            return shapes[0]
        rank = len(shapes[0])
        axis = self.concat_axis - 1 if self.concat_axis > 0 else self.concat_axis  # per sample
        if not -rank <= axis < rank or any(len(s) != rank for s in shapes):
            raise ConfigError(f"Merge concat_axis {self.concat_axis} does not fit branch outputs "
                              f"{', '.join(str(s) for s in shapes)}")
        axis %= rank
        for s in shapes:
            if s[:axis] + s[axis + 1:] != shapes[0][:axis] + shapes[0][axis + 1:]:
                raise ConfigError(f"Merge concat on axis {self.concat_axis} needs branch outputs equal on every "
                                  f"other axis, got {', '.join(str(s) for s in shapes)}")
        sizes = [s[axis] for s in shapes]
        total = None if any(v is None for v in sizes) else sum(sizes)
        return shapes[0][:axis] + (total,) + shapes[0][axis + 1:]

    # -- weights ------------------------------------------------------------------------
    def _branch_layers(self):
        for b in self.layers:
            yield from (b._branch_layers() if isinstance(b, Merge) else b.layers)

    def param_specs(self, input_shape):
        return [spec for layer in self._branch_layers() for spec in layer.param_specs(layer.input_shape)]

    @property
    def weight_names(self):
        return [name for layer in self._branch_layers() for name in layer.weight_names]

    def get_weights(self):
        return [w for b in self.layers for w in b.get_weights()]

    def set_weights(self, weights):
        weights = list(weights)
        counts = [len(b.weight_names) if isinstance(b, Merge) else sum(len(l.weight_names) for l in b.layers)
                  for b in self.layers]
        if len(weights) != sum(counts):
            raise ConfigError(f"the Merge's branches have {sum(counts)} weight arrays ({counts} per branch), "
                              f"got {len(weights)}")
        for i, (b, ws) in enumerate(zip(self.layers, self._split(weights, counts))):
            try:
                b.set_weights(ws)
            except ConfigError as exc:
                raise ConfigError(f"Merge branch {i}: {exc}") from None

    def count_params(self):
        return sum(b.count_params() for b in self.layers)

    def set_dtype(self, dtype):
        self.dtype = check_dtype(dtype)
        for b in self.layers:
            b.set_dtype(self.dtype) if isinstance(b, Merge) else b.set_dtype(self.dtype, b.dtype_from)

    def build(self, input_shape, dtype, rng, initialise=True):
        raise ConfigError("a Merge's branches must declare their input shapes (input_shape or input_dim "
                          "on each branch's first layer)")

    # -- computation --------------------------------------------------------------------
    def check_inputs(self, Xs):
        """The model's inputs, one array per leaf branch, each checked by its branch."""
        if not isinstance(Xs, (list, tuple)) or len(Xs) != self.nb_inputs:
            got = f"{len(Xs)}" if isinstance(Xs, (list, tuple)) else f"one {type(Xs).__name__}"
            raise InputError(f"the model starts with a Merge and takes a list of {self.nb_inputs} arrays "
                             f"(one per branch, in branch order), got {got}")
        parts = self._split(list(Xs), [self._nb_inputs(b) for b in self.layers])
        checked = []
        for i, (b, xs) in enumerate(zip(self.layers, parts)):
            try:
                if isinstance(b, Merge):
                    checked += b.check_inputs(xs)
                elif isinstance(b.layers[0], Merge):
                    checked += b.layers[0].check_inputs(xs)
                else:
                    checked.append(b.check_input(xs[0]))
            except InputError as exc:
                raise InputError(f"Merge branch {i}: {exc}") from None
        sizes = {len(x) for x in checked}
        if len(sizes) != 1:
            raise InputError(f"the Merge's inputs must have one batch size, got {sorted(sizes)}")
        return checked

    def forward(self, X, mask=None, train=False, rng=None):
        parts = self._split(list(X), [self._nb_inputs(b) for b in self.layers])
        outs = []
        for b, xs in zip(self.layers, parts):
            if isinstance(b, Merge):
                outs.append(b.forward(xs, train=train))
            else:
                outs.append(b.forward(xs if isinstance(b.layers[0], Merge) else xs[0], train=train)[0])
        self._outs = outs
        if self.mode == "concat":
            return np.concatenate(outs, axis=self.concat_axis)
        Y = outs[0]
        for o in outs[1:]:
            Y = Y * o if self.mode == "mul" else Y + o
        return Y / len(outs) if self.mode == "ave" else Y

    def backward(self, dY):
        """(None, gradients of every branch weight): a Merge is the model's first layer."""
        outs = self._outs
        if self.mode == "concat":
            edges = np.cumsum([o.shape[self.concat_axis] for o in outs])[:-1]
            parts = np.split(dY, edges, axis=self.concat_axis)
        elif self.mode == "mul":
            parts = []
            for i in range(len(outs)):
                g = dY
                for j, o in enumerate(outs):
                    if j != i:
                        g = g * o
                parts.append(g)
        else:
            g = dY / len(outs) if self.mode == "ave" else dY
            parts = [g] * len(outs)
        grads = []
        for b, g in zip(self.layers, parts):
            grads += b.backward(g)[1] if isinstance(b, Merge) else b.backward(g)
        return None, grads
