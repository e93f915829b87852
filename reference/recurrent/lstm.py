"""LSTM, weights in Keras 0.2.0 order i, c, f, o (input, CELL, forget, output)."""
import numpy as np

from .. import initializations

from ..registry import register_layer
from .base import Recurrent, unmask


@register_layer
class LSTM(Recurrent):
    """c[t] = f*cm + i*act(xc + hm·U_c);  h[t] = o*act(c[t])   (cm = m[t-1]*c[t-1]).

    The projection and fused U are ordered i, f, o, c so the three gates that share
    inner_activation form one contiguous block.
    """

    default_activation = "tanh"
    default_inner_activation = "hard_sigmoid"
    projection = ([("W_i", "b_i", None), ("W_f", "b_f", None), ("W_o", "b_o", None), ("W_c", "b_c", None)],)
    fused = {"U_ifoc": ["U_i", "U_f", "U_o", "U_c"]}

    def __init__(self, output_dim, init="glorot_uniform", inner_init="orthogonal", forget_bias_init="one",
                 activation=None, inner_activation=None, weights=None, truncate_gradient=-1,
                 return_sequences=False, input_dim=None, input_length=None, **kwargs):
        # Keras 0.2.0's positional order: forget_bias_init comes after inner_init
        super().__init__(output_dim, init=init, inner_init=inner_init, activation=activation,
                         inner_activation=inner_activation, weights=weights, truncate_gradient=truncate_gradient,
                         return_sequences=return_sequences, input_dim=input_dim, input_length=input_length,
                         **kwargs)
        initializations.get(forget_bias_init)
        self.forget_bias_init = forget_bias_init

    config_keys = Recurrent.config_keys + ("forget_bias_init",)
    state_count = 2  # h, c

    def param_specs(self, input_shape):
        d, k = input_shape[-1], self.output_dim
        specs = []
        for gate in "icfo":
            bias_init = self.forget_bias_init if gate == "f" else "zero"
            specs += [(f"W_{gate}", (d, k), self.init), (f"U_{gate}", (k, k), self.inner_init),
                      (f"b_{gate}", (k,), bias_init)]
        return specs

    def initial_states(self, n):
        zero = np.zeros((n, self.output_dim), self.dtype)
        return (zero, zero.copy())

    def step(self, o, xs, m, states, p):
        (x,), (hm, cm), k = xs, states, self.output_dim
        a = o.add(x, o.matmul(hm, p["U_ifoc"]))
        a_ifo, a_c = o.split(a, [3 * k, k])
        ifo = o.act(self.inner_activation, a_ifo)
        i, f, og = o.split(ifo, [k, k, k])
        cc = o.act(self.activation, a_c)
        c = o.add(o.mul(f, cm), o.mul(i, cc))
        fc = o.act(self.activation, c)
        h = o.mul(og, fc)
        return h, (o.mask(h, m), o.mask(c, m)), dict(hm=hm, cm=cm, a=a, ifo=ifo, cc=cc, c=c, fc=fc)

    # U_ifoc's gradient, sum_t hm[t]^T · da[t], is one matmul after the loop (see base)
    recurrent_grads = (("U_ifoc", "hm", 0),)

    def step_backward(self, cache, dh, dstates, p, g):
        k, m = self.output_dim, cache["m"]
        dh = dh + unmask(dstates[0], m)
        a, ifo, cc, fc = cache["a"], cache["ifo"], cache["cc"], cache["fc"]
        i, f, og = ifo[:, :k], ifo[:, k:2 * k], ifo[:, 2 * k:]
        dc = np.multiply(dh, og)
        self.activation.backward_into(cache["c"], fc, dc, dc)
        dc += unmask(dstates[1], m)
        # first the gradients of the gates' outputs, then (in place) of a; written
        # straight into the projection gradient's slot for this step
        da = g.slots[0]
        np.multiply(dc, cc, out=da[:, :k])
        np.multiply(dc, cache["cm"], out=da[:, k:2 * k])
        np.multiply(dh, fc, out=da[:, 2 * k:3 * k])
        np.multiply(dc, i, out=da[:, 3 * k:])
        self.inner_activation.backward_into(a[:, :3 * k], ifo, da[:, :3 * k], da[:, :3 * k])
        self.activation.backward_into(a[:, 3 * k:], cc, da[:, 3 * k:], da[:, 3 * k:])
        return (da,), (da @ p["U_ifoc"].T, np.multiply(dc, f, out=dh))  # dh's buffer is free by now
