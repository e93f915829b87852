"""SimpleRNN and SimpleDeepRNN."""
import numpy as np

from ..errors import ConfigError
from ..registry import register_layer
from ..untrusted import quote
from ..validators import positive_int
from .base import Recurrent, unmask


@register_layer
class SimpleRNN(Recurrent):
    """h[t] = f(x[t] + (m[t-1]*h[t-1])·U)   (x = X·W + b).

    `combine`: "add" (default) is the formula above; "mul" is Keras 0.3.0's
    h[t] = f(x[t] * (h[t-1]·U)), the cell that release shipped (and trained models with).
    """

    default_activation = "sigmoid"
    projection = ([("W", "b", None)],)
    COMBINES = ("add", "mul")

    def __init__(self, output_dim, init="glorot_uniform", inner_init="orthogonal", activation=None,
                 weights=None, truncate_gradient=-1, return_sequences=False, input_dim=None,
                 input_length=None, combine="add", **kwargs):
        # Keras 0.2.0's positional order (no inner_activation); one given by name is ignored
        kwargs.pop("inner_activation", None)
        super().__init__(output_dim, init=init, inner_init=inner_init, activation=activation, weights=weights,
                         truncate_gradient=truncate_gradient, return_sequences=return_sequences,
                         input_dim=input_dim, input_length=input_length, **kwargs)
        if combine not in self.COMBINES:
            raise ConfigError(f"SimpleRNN: unknown combine {quote(combine)}; accepted: {', '.join(self.COMBINES)}")
        self.combine = combine

    later_config_defaults = dict(Recurrent.later_config_defaults, combine="add")

    config_keys = tuple(k for k in Recurrent.config_keys if k != "inner_activation")
    config_keys_ignored = ("inner_activation",)  # 0.1.x/0.2.0 configs carry it; SimpleRNN has no inner gate

    def param_specs(self, input_shape):
        d, k = input_shape[-1], self.output_dim
        return [("W", (d, k), self.init), ("U", (k, k), self.inner_init), ("b", (k,), "zero")]

    def step(self, o, xs, m, states, p):
        (x,), (hm,) = xs, states
        if self.combine == "mul":
            hU = o.matmul(hm, p["U"])
            a = o.mul(x, hU)
            cache = dict(hm=hm, x=x, hU=hU)
        else:
            a = o.add(x, o.matmul(hm, p["U"]))
            cache = dict(hm=hm)
        h = o.act(self.activation, a)
        cache.update(a=a, h=h)
        return h, (o.mask(h, m),), cache

    @property
    def recurrent_grads(self):
        # "add": sum_t hm[t]^T · da[t], one matmul after the loop; "mul" reads x too (g.outer)
        return (("U", "hm", 0),) if self.combine == "add" else ()

    def step_backward(self, c, dh, dstates, p, g):
        dh = dh + unmask(dstates[0], c["m"])
        da = self.activation.backward(c["a"], c["h"], dh)
        if self.combine == "add":
            return (da,), (da @ p["U"].T,)
        dhU = da * c["x"]
        g.outer("U", c["hm"], dhU)
        return (da * c["hU"],), (dhU @ p["U"].T,)


@register_layer
class SimpleDeepRNN(Recurrent):
    """h[t] = f(x[t] + Σ_j m[t-j]*g(h[t-j]·U_j)).

    Each step computes h[t]·[U_1 … U_D] once and adds m[t]*g(·) to D carried
    states of pending lag terms (state j-1 arrives j steps later), so one matmul per
    step serves every lag and lags before the sequence start contribute nothing.
    The pending terms are D states rather than one (n, D·k) buffer so the ONNX body
    needs no Split of the buffer nor Pad to shift it (5 nodes after onnxruntime's
    fusions instead of 6 at depth 2); the backward joins them into one buffer.
    """

    default_activation = "sigmoid"
    projection = ([("W", "b", None)],)

    def __init__(self, output_dim, depth=3, init="glorot_uniform", inner_init="orthogonal", activation=None,
                 inner_activation=None, weights=None, truncate_gradient=-1, return_sequences=False,
                 input_dim=None, input_length=None, **kwargs):
        self.depth = positive_int(depth, "SimpleDeepRNN", "depth", limit="depth")
        super().__init__(output_dim, init=init, inner_init=inner_init, activation=activation,
                         inner_activation=inner_activation, weights=weights, truncate_gradient=truncate_gradient,
                         return_sequences=return_sequences, input_dim=input_dim, input_length=input_length,
                         **kwargs)
        if self.mask_rule != "reset":
            # it exists only in Keras 0.1.x-0.2.0; its truncated backward (truncation_boundary)
            # assumes that release's rule
            raise ConfigError(f"SimpleDeepRNN: mask_rule must be 'reset' (Keras 0.1.x-0.2.0, the only releases "
                              f"that have SimpleDeepRNN), got {quote(self.mask_rule)}")

    config_keys = Recurrent.config_keys + ("depth",)

    @property
    def fused(self):
        return {"U_lags": [f"U_{j}" for j in range(1, self.depth + 1)]}

    def param_specs(self, input_shape):
        d, k = input_shape[-1], self.output_dim
        lags = [(f"U_{j}", (k, k), self.inner_init) for j in range(1, self.depth + 1)]
        return [("W", (d, k), self.init)] + lags + [("b", (k,), "zero")]

    def initial_states(self, n):
        return tuple(np.zeros((n, self.output_dim), self.dtype) for _ in range(self.depth))

    def step(self, o, xs, m, states, p):
        (x,), k, depth = xs, self.output_dim, self.depth
        a = o.add(x, states[0])  # the pending terms arriving now
        h = o.act(self.activation, a)
        lag_in = o.matmul(h, p["U_lags"])
        lag = o.act(self.inner_activation, lag_in)  # masked after g: g(0) is 0.5 for hard_sigmoid
        terms = o.split(o.mask(lag, m), [k] * depth)
        # the states arriving later move one step closer (the last one starts empty)
        carried = tuple(o.add(states[j + 1], terms[j]) for j in range(depth - 1)) + (terms[-1],)
        return h, carried, dict(a=a, h=h, lag_in=lag_in, lag=lag)

    def step_backward(self, c, dh, dstates, p, g):
        dcarried = np.concatenate(dstates, axis=1)
        dlag_in = self.inner_activation.backward(c["lag_in"], c["lag"], unmask(dcarried, c["m"]))
        g.outer("U_lags", c["h"], dlag_in)
        da = self.activation.backward(c["a"], c["h"], dh + dlag_in @ p["U_lags"].T)
        return (da,), (da,) + tuple(dstates[:-1])  # state j+1 fed carried state j

    def truncation_boundary(self, caches, first, dstates, p, g):
        """The original computes each lag term m[t-j]*g(h[t-j]·U_j) inside step t, so with
        truncated BPTT the terms arriving at steps >= first still give U_j gradient even
        when h[t-j] comes from before `first` (which itself gets none). Here those terms
        were computed ahead, at steps first-1 … first-D: walk back over them, weights only."""
        k = self.output_dim
        dcarried = np.concatenate(dstates, axis=1)
        for t in range(first - 1, max(first - self.depth, 0) - 1, -1):
            c = caches[t]
            dlag_in = self.inner_activation.backward(c["lag_in"], c["lag"], unmask(dcarried, c["m"]))
            g.t = t
            g.outer("U_lags", c["h"], dlag_in)
            shifted = np.zeros_like(dcarried)  # slot 0 arrived at step t < first: dropped
            shifted[:, k:] = dcarried[:, :-k]
            dcarried = shifted
