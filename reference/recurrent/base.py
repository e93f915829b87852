"""What every recurrent cell shares: the hoisted input projection, the time loop,
the mask rule and truncated BPTT.

A cell describes itself with three tables and two functions:

- `param_specs`: its weights in Keras order;
- `projection`: the input projections computed for all timesteps before the loop,
  as groups of (W, b, pre) entries; each group becomes one per-step input `x`,
  the entry computing `pre(X·W) + b` (`pre` None for the plain `X·W + b`);
- `fused`: recurrent matrices concatenated along their columns so one matmul per
  step serves every gate that reads the same state;
- `step(o, xs, m, states, p)`: one timestep written against a small op set `o`
  (`NumpyOps` here, `OnnxOps` in rnn2onnx/graph.py), returning the output `h`,
  the states carried to the next step and a cache of intermediates;
- `step_backward(c, dh, dstates, p, g)`: the same step backwards, side by side.

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

    @staticmethod
    def shift_left(x, k):
        """Drop the first k columns, append k zero columns."""
        out = np.zeros_like(x)
        out[:, :-k] = x[:, k:]
        return out


NP = NumpyOps()


def unmask(d, m):
    """Backward of `o.mask`."""
    return d if m is None else d * m


class Recurrent(Layer):
    default_activation = "tanh"
    default_inner_activation = "hard_sigmoid"
    projection = ()  # groups of (W name, b name, pre-activation or None)
    fused = {}       # fused name -> U names concatenated along axis 1

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

    def projection_matrix(self):
        """(W_all, b_all, [(columns, pre) per entry], [width per group]) of the projection."""
        Ws, bs, entries, widths = [], [], [], []
        for group in self.projection:
            width = 0
            for W, b, pre in group:
                Ws.append(self.params[W])
                bs.append(self.params[b])
                entries.append((self.params[W].shape[1], pre))
                width += self.params[W].shape[1]
            widths.append(width)
        return np.concatenate(Ws, axis=1), np.concatenate(bs), entries, widths

    def initial_states(self, n):
        return (np.zeros((n, self.output_dim), self.dtype),)

    # -- forward ----------------------------------------------------------------------
    def forward(self, X, mask=None, train=False, rng=None):
        if X.ndim != 3:
            raise InputError(f"layer {self.name}: expects (batch, time, features) input, got rank {X.ndim}")
        if X.shape[2] != self.input_shape[-1]:
            raise InputError(f"layer {self.name}: input has width {X.shape[2]}, expected {self.input_shape[-1]}")
        n, T, _ = X.shape
        Xt = np.ascontiguousarray(X.transpose(1, 0, 2))  # time-major
        W_all, b_all, entries, widths = self.projection_matrix()
        XW = Xt @ W_all
        pre_out, cols, start = [], [], 0
        for width, pre in entries:
            z = XW[..., start:start + width]
            y = z if pre is None else pre(z)
            pre_out.append((z, y, pre))
            cols.append(y)
            start += width
        proj = np.concatenate(cols, axis=-1) + b_all
        xs = NP.split(proj.reshape(T * n, -1), widths)
        xs = [x.reshape(T, n, -1) for x in xs]
        m = None if mask is None else np.ascontiguousarray(mask.T, dtype=self.dtype)[:, :, None]

        p = self.fused_params()
        states = self.initial_states(n)
        H = np.empty((T, n, self.output_dim), self.dtype)
        caches = []
        for t in range(T):
            mt = None if m is None else m[t]
            H[t], states, cache = self.step(NP, [x[t] for x in xs], mt, states, p)
            cache["m"] = mt
            caches.append(cache)
        self._cache = (Xt, W_all, pre_out, widths, p, caches)
        if self.return_sequences:
            return H.transpose(1, 0, 2)
        return H[-1]

    # -- backward ---------------------------------------------------------------------
    def backward(self, dY):
        Xt, W_all, pre_out, widths, p, caches = self._cache
        T, n, d = Xt.shape
        dH = np.zeros((T, n, self.output_dim), self.dtype)
        if self.return_sequences:
            dH[:] = dY.transpose(1, 0, 2)
        else:
            dH[-1] = dY
        first = 0 if self.truncate_gradient < 0 else max(0, T - self.truncate_gradient)
        g = {name: np.zeros_like(value) for name, value in p.items()}
        dproj = np.zeros((T, n, sum(widths)), self.dtype)
        dstates = tuple(np.zeros_like(s) for s in self.initial_states(n))
        for t in range(T - 1, first - 1, -1):
            dxs, dstates = self.step_backward(caches[t], dH[t], dstates, p, g)
            dproj[t] = np.concatenate(dxs, axis=1) if len(dxs) > 1 else dxs[0]
        # input projection backward: bias, optional pre-activation, one matmul each way
        db_all = dproj.reshape(T * n, -1).sum(axis=0)
        dXW, start = np.empty_like(dproj), 0
        for z, y, pre in pre_out:
            width = z.shape[-1]
            dy = dproj[..., start:start + width]
            dXW[..., start:start + width] = dy if pre is None else pre.backward(z, y, dy)
            start += width
        dW_all = Xt.reshape(T * n, d).T @ dXW.reshape(T * n, -1)
        dX = (dXW @ W_all.T).transpose(1, 0, 2)
        # unfuse: recurrent blocks back to their Keras names, projection columns to W/b
        for name, parts in self.fused.items():
            for part, block in zip(parts, np.split(g[name], len(parts), axis=1)):
                g[part] += block
        start = 0
        for group in self.projection:
            for W, b, _ in group:
                width = self.params[W].shape[1]
                g[W] = g[W] + dW_all[:, start:start + width]
                g[b] = g[b] + db_all[start:start + width]
                start += width
        return dX, [g[name] for name in self.weight_names]
