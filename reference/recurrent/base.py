"""What every recurrent cell shares: the hoisted input projection, the time loop,
the mask rule and truncated BPTT.

A cell describes itself with three tables and two functions:

- `param_specs`: its weights in Keras order;
- `projection`: the input projections computed for all timesteps before the loop,
  as groups of (W, b, pre) entries; each group becomes one per-step input `x`,
  the entry computing `pre(X·W) + b` (`pre` None for the plain `X·W + b`);
  `projection_activations()`: {group: activation} applied to a whole group after its
  bias, for gates that read the input only (computed once for all timesteps, not in
  the step: one node less per step in an ONNX loop);
- `fused`: recurrent matrices concatenated along their columns so one matmul per
  step serves every gate that reads the same state;
- `step(o, xs, m, states, p)`: one timestep written against a small op set `o`
  (`NumpyOps` here, `OnnxOps` in rnn2onnx/graph.py), returning the output `h`,
  the states carried to the next step and a cache of intermediates;
- `step_backward(c, dh, dstates, p, g)`: the same step backwards, side by side,
  returning the gradients of the step's projection inputs and of the carried states;
- `recurrent_grads`: (U, cache key, projection group) triples: U's gradient is
  sum_t cache[t][key]^T · (gradient of group's per-step input at t), since the step's
  product key·U feeds the same pre-activation as that group; base does it with one
  matmul after the time loop. Other per-step weight gradients go through
  `g.outer(name, a, b)` (also one matmul after the loop) or `g[name] +=`.

Speed notes: the projection is one matmul per group (contiguous per-step slices), the
backward reads recurrent matrices through Fortran-ordered copies (so `d @ U.T` is a
plain row-major product), and weight gradients are accumulated after the loop.

The mask rule "the previous step's mask gates the carried state" is applied at the
end of each step: the carried states are multiplied by this step's mask (`o.mask`).
"""
import numpy as np

from .. import activations, initializations
from ..errors import ConfigError, InputError
from ..layers import Layer


class NumpyOps:
    """The op set a cell's step is written against, evaluated eagerly with NumPy."""

    add, sub, mul, matmul = staticmethod(np.add), staticmethod(np.subtract), staticmethod(np.multiply), staticmethod(np.matmul)

    @staticmethod
    def act(activation, x):
        return activation(x)

    @staticmethod
    def split(x, sizes):
        out, start = [], 0
        for size in sizes:
            out.append(x[:, start:start + size])
            start += size
        return out

    @staticmethod
    def mask(x, m):
        return x if m is None else x * m



NP = NumpyOps()


def unmask(d, m):
    """Backward of `o.mask`."""
    return d if m is None else d * m


class Recurrent(Layer):
    default_activation = "tanh"
    default_inner_activation = "hard_sigmoid"
    projection = ()  # groups of (W name, b name, pre-activation or None)
    fused = {}       # fused name -> U names concatenated along axis 1
    # (U name, cache key, group): U's gradient is sum_t cache[t][key]^T · dproj[group][t],
    # the step's recurrent product feeding the same pre-activation as that projection group
    recurrent_grads = ()

    def __init__(self, output_dim, init="glorot_uniform", inner_init="orthogonal", activation=None,
                 inner_activation=None, weights=None, truncate_gradient=-1, return_sequences=False,
                 input_dim=None, input_length=None, input_shape=None):
        super().__init__(weights=weights, input_shape=input_shape, input_dim=input_dim,
                         input_length=input_length)
        if int(output_dim) < 1:
            raise ConfigError(f"{type(self).__name__}: output_dim must be >= 1, got {output_dim}")
        self.output_dim = int(output_dim)
        self.init, self.inner_init = init, inner_init
        initializations.get(init), initializations.get(inner_init)
        self.activation = activations.get(activation or self.default_activation)
        self.inner_activation = activations.get(inner_activation or self.default_inner_activation)
        truncate_gradient = int(truncate_gradient)
        if truncate_gradient == 0 or truncate_gradient < -1:
            raise ConfigError(
                f"{type(self).__name__}: truncate_gradient must be -1 (full BPTT) or a positive "
                f"number of timesteps, got {truncate_gradient}"
            )
        self.truncate_gradient = truncate_gradient
        self.return_sequences = bool(return_sequences)
        self.input_dim, self.input_length = input_dim, input_length

    config_keys = ("output_dim", "init", "inner_init", "activation", "inner_activation",
                   "truncate_gradient", "return_sequences", "input_dim", "input_length")

    # -- shapes ----------------------------------------------------------------------
    def output_shape(self, input_shape):
        if len(input_shape) != 2:
            raise ConfigError(f"layer {self.name}: a recurrent layer takes sequences of shape (timesteps, features), "
                              f"got input shape {tuple(input_shape)} (give input_shape [null, width] or input_dim)")
        T = input_shape[0]
        return (T, self.output_dim) if self.return_sequences else (self.output_dim,)

    def output_mask(self, mask):
        return mask if self.return_sequences else None

    def fused_params(self):
        """The weights plus the fused recurrent matrices the step uses."""
        p = dict(self.params)
        for name, parts in self.fused.items():
            p[name] = np.concatenate([self.params[u] for u in parts], axis=1)
        return p

    def projection_groups(self):
        """Per projection group: (W_g, b_g, [(columns, pre) per entry]), W_g and b_g the
        group's entries concatenated along their columns."""
        groups = []
        for group in self.projection:
            Ws = [self.params[W] for W, _, _ in group]
            bs = [self.params[b] for _, b, _ in group]
            entries = [(self.params[W].shape[1], pre) for W, _, pre in group]
            W_g = Ws[0] if len(Ws) == 1 else np.concatenate(Ws, axis=1)
            b_g = bs[0] if len(bs) == 1 else np.concatenate(bs)
            groups.append((W_g, b_g, entries))
        return groups

    def projection_activations(self):
        return {}

    def initial_states(self, n):
        return (np.zeros((n, self.output_dim), self.dtype),)

    # -- forward ----------------------------------------------------------------------
    def forward(self, X, mask=None, train=False, rng=None):
        if X.ndim != 3:
            raise InputError(f"layer {self.name}: expects (batch, time, features) input, got rank {X.ndim}")
        if X.shape[2] != self.input_shape[-1]:
            raise InputError(f"layer {self.name}: input has width {X.shape[2]}, expected {self.input_shape[-1]}")
        n, T, d = X.shape
        if T == 0:
            raise InputError(f"layer {self.name}: sequences must have at least one timestep, got shape {X.shape}")
        X2 = np.ascontiguousarray(X.transpose(1, 0, 2), dtype=self.dtype).reshape(T * n, d)  # time-major
        # the input projection of every timestep, one matmul per group: xs[g] is (T, n, width)
        groups = self.projection_groups()
        xs, pre_cache, post_cache = [], [], {}
        posts = self.projection_activations()
        for j, (W_g, b_g, entries) in enumerate(groups):
            XW = X2 @ W_g
            start = 0
            for width, pre in entries:
                if pre is not None:
                    z = XW[:, start:start + width].copy()
                    XW[:, start:start + width] = y = pre(z)
                    pre_cache.append((z, y))
                start += width
            XW += b_g
            if j in posts:
                post_cache[j] = (XW, posts[j](XW))
                XW = post_cache[j][1]
            xs.append(XW.reshape(T, n, -1))
        m = None if mask is None else np.ascontiguousarray(mask.T, dtype=self.dtype)[:, :, None]

        p = self.fused_params()
        states = self.initial_states(n)
        H = np.empty((T, n, self.output_dim), self.dtype)
        caches = [None] * T
        step = self.step
        for t in range(T):
            mt = None if m is None else m[t]
            H[t], states, cache = step(NP, [x[t] for x in xs], mt, states, p)
            cache["m"] = mt
            caches[t] = cache
        self._cache = (X2, groups, pre_cache, post_cache, p, caches, (n, T, d))
        if self.return_sequences:
            return H.transpose(1, 0, 2)
        return H[-1]

    # -- backward ---------------------------------------------------------------------
    def truncation_boundary(self, caches, first, dstates, p, g):
        """Truncated BPTT stopped before step `first`; `dstates` is the gradient of the
        states carried into it. Cells whose carried state holds terms that Theano's
        original computed inside a later step (SimpleDeepRNN's lags) give their weights
        the gradient of those terms here. Nothing flows into earlier steps."""

    def backward(self, dY):
        X2, groups, pre_cache, post_cache, p, caches, (n, T, d) = self._cache
        k = self.output_dim
        if self.return_sequences:
            dH = np.ascontiguousarray(dY.transpose(1, 0, 2), dtype=self.dtype)
        else:
            dH = np.zeros((T, n, k), self.dtype)
            dH[-1] = dY
        first = 0 if self.truncate_gradient < 0 else max(0, T - self.truncate_gradient)
        # the step reads U as `d @ U.T`: Fortran-ordered copies make that a plain matmul
        # (of the recurrent matrices only: the projection weights are read after the loop)
        projected = {W for group in self.projection for W, _, _ in group}
        pb = {name: np.asfortranarray(v) if v.ndim == 2 and name not in projected else v for name, v in p.items()}
        g = StepGradients(p, T)
        dproj = [np.empty((T, n, W_g.shape[1]), self.dtype) for W_g, _, _ in groups]
        dstates = tuple(np.zeros_like(s) for s in self.initial_states(n))
        step_backward = self.step_backward
        for t in range(T - 1, first - 1, -1):
            g.t = t
            g.slots = [buf[t] for buf in dproj]  # a step may write its gradients here directly
            dxs, dstates = step_backward(caches[t], dH[t], dstates, pb, g)
            for slot, dx in zip(g.slots, dxs):
                if dx is not slot:
                    slot[...] = dx
        if first > 0:
            self.truncation_boundary(caches, first, dstates, pb, g)
        g.flush()
        for U, key, group in self.recurrent_grads:
            left = np.stack([caches[t][key] for t in range(first, T)])
            g[U] += left.reshape(-1, left.shape[-1]).T @ dproj[group][first:].reshape(-1, g[U].shape[1])
        # the input projection backward, over the steps the truncated backward reached
        rows = slice(first * n, T * n)
        for j, (a, y) in post_cache.items():  # dproj[j] holds the gradient of the activated group
            dy = dproj[j][first:].reshape(-1, a.shape[1])
            self.projection_activations()[j].backward_into(a[rows], y[rows], dy, dy)
        dX_rows = None  # sum over groups of dXW·W_g^T, for the reached rows
        pre_iter = iter(pre_cache)
        for (W_g, _, entries), group, buf in zip(groups, self.projection, dproj):
            dXW = buf[first:].reshape(-1, W_g.shape[1])
            db = dXW.sum(axis=0)  # pairwise summation: more accurate in float32 than a BLAS product
            start = 0
            for width, pre in entries:
                if pre is not None:
                    z, y = next(pre_iter)
                    dXW[:, start:start + width] = pre.backward(z[rows], y[rows], dXW[:, start:start + width])
                start += width
            dW_g = X2[rows].T @ dXW  # one product for the group's weights, split below
            start = 0
            for (width, _), (W, b, _) in zip(entries, group):
                g[W] += dW_g[:, start:start + width]
                g[b] += db[start:start + width]
                start += width
            if dX_rows is None:
                dX_rows = dXW @ W_g.T
            else:
                dX_rows += dXW @ W_g.T
        # unfuse: recurrent blocks back to their Keras names
        for name, parts in self.fused.items():
            for part, block in zip(parts, np.split(g[name], len(parts), axis=1)):
                g[part] += block
        dX = dX_rows
        if first > 0:  # the steps before `first` get no gradient
            dX = np.zeros((T * n, d), self.dtype)
            dX[rows] = dX_rows
        return dX.reshape(T, n, d).transpose(1, 0, 2), [g[name] for name in self.weight_names]


class StepGradients(dict):
    """The weight gradients of one backward pass, by name, plus `outer(name, a, b)`:
    `self[name] += a.T @ b` for the current step `t`, collected in (T, n, ·) buffers and
    summed over all steps with one matmul in `flush()` (at most one call per name and
    step; the steps seen must form one contiguous range). `slots[j]` is where step t's
    gradient of projection group j goes: a step may write it there and return it."""

    def __init__(self, p, T):
        super().__init__((name, np.zeros_like(value)) for name, value in p.items())
        self.t, self.T, self._outer, self.slots = 0, T, {}, []

    def outer(self, name, a, b):
        entry = self._outer.get(name)
        if entry is None:
            entry = self._outer[name] = [np.empty((self.T,) + a.shape, a.dtype),
                                         np.empty((self.T,) + b.shape, b.dtype), self.t, self.t]
        entry[0][self.t] = a
        entry[1][self.t] = b
        entry[2], entry[3] = min(entry[2], self.t), max(entry[3], self.t)

    def flush(self):
        for name, (A, B, lo, hi) in self._outer.items():
            A2 = A[lo:hi + 1].reshape(-1, A.shape[-1])
            B2 = B[lo:hi + 1].reshape(-1, B.shape[-1])
            self[name] += A2.T @ B2
        self._outer = {}
