"""The z/r/h gate family: GRU and the evolved cells JZS1, JZS2, JZS3.

All four share one step (hm = m[t-1]*h[t-1]):

    r  = g(xr + hm·U_r)
    hh = f(xh + (r*hm)·U_h)
    h  = z*hm + (1-z)*hh   (GRU)      h = z*hh + (1-z)*hm   (JZS)

and differ only in what the update gate z reads: `z_reads`
  "state"      z = g(xz + hm·U_z)          GRU, JZS2 (z and r share one matmul)
  "input"      z = g(xz)                   JZS1 (computed with the projection, before the loop)
  "tanh_state" z = g(xz + tanh(hm)·U_z)    JZS3

GRU(reset_after=True) (Keras 2.1.5+, CuDNNGRU's form; ONNX GRU's linear_before_reset=1)
applies the reset gate after the recurrent product, and each recurrent product has a bias
of its own (bU):

    z = g(xz + hm·U_z + bU_z);  r = g(xr + hm·U_r + bU_r)
    hh = f(xh + r*(hm·U_h + bU_h))

so one product hm·[U_z U_r U_h] + [bU_z bU_r bU_h] per step serves all three gates.
"""
import numpy as np

from .. import activations
from ..registry import register_layer
from .base import Recurrent, _flag, unmask

TANH = activations.get("tanh")


def random_sign_or_identity(rng, shape):
    """JZS's P: the identity when square, else entries ±1/sqrt(d) with equal odds."""
    d, k = shape
    if d == k:
        return np.identity(d)
    return (rng.binomial(1, 0.5, size=shape) * 2.0 - 1.0) / np.sqrt(d)


class GatedRecurrent(Recurrent):
    z_reads = "state"
    z_keeps_state = True  # GRU: z weights the old state; JZS: z weights the candidate

    reset_after = False

    def step(self, o, xs, m, states, p):
        (hm,), g, f = states, self.inner_activation, self.activation
        c = dict(hm=hm)
        if self.reset_after:
            (xzr, xh), k = xs, self.output_dim
            hU = o.add(o.matmul(hm, p["U_zrh"]), p["bU_zrh"])
            hU_zr, c["hU_h"] = o.split(hU, [2 * k, k])
            c["a_zr"] = o.add(xzr, hU_zr)
            c["zr"] = o.act(g, c["a_zr"])
            z, r = o.split(c["zr"], [k, k])
            c["a_h"] = o.add(xh, o.mul(r, c["hU_h"]))
            hh = c["hh"] = o.act(f, c["a_h"])
            h = o.add(hh, o.mul(z, o.sub(hm, hh)))
            return h, (o.mask(h, m),), c
        if self.z_reads == "state":
            xzr, xh = xs
            c["a_zr"] = o.add(xzr, o.matmul(hm, p["U_zr"]))
            c["zr"] = o.act(g, c["a_zr"])
            z, r = o.split(c["zr"], [self.output_dim, self.output_dim])
        else:
            xz, xr, xh = xs
            if self.z_reads == "input":
                z = c["z"] = xz  # g(xz) already: see projection_activations
            else:
                c["th"] = o.act(TANH, hm)
                c["a_z"] = o.add(xz, o.matmul(c["th"], p["U_z"]))
                z = c["z"] = o.act(g, c["a_z"])
            c["a_r"] = o.add(xr, o.matmul(hm, p["U_r"]))
            r = c["r"] = o.act(g, c["a_r"])
        c["rh"] = o.mul(r, hm)
        c["a_h"] = o.add(xh, o.matmul(c["rh"], p["U_h"]))
        hh = c["hh"] = o.act(f, c["a_h"])
        if self.z_keeps_state:
            h = o.add(hh, o.mul(z, o.sub(hm, hh)))
        else:
            h = o.add(hm, o.mul(z, o.sub(hh, hm)))
        return h, (o.mask(h, m),), c

    def projection_activations(self):
        return {0: self.inner_activation} if self.z_reads == "input" else {}

    @property
    def recurrent_grads(self):
        """(U, cache key of its left operand, projection group of its pre-activation):
        U's gradient sum_t left[t]^T · da[t] is one matmul after the loop (see base)."""
        if self.reset_after:  # its product's gradient is not a projection group's (r scales it)
            return ()
        if self.z_reads == "state":
            return (("U_zr", "hm", 0), ("U_h", "rh", 1))
        zs = (("U_z", "th", 0),) if self.z_reads == "tanh_state" else ()
        return zs + (("U_r", "hm", 1), ("U_h", "rh", 2))

    def step_backward(self, c, dh, dstates, p, g):
        k, hm, hh = self.output_dim, c["hm"], c["hh"]
        dh = dh + unmask(dstates[0], c["m"])
        if self.reset_after:
            return self._reset_after_backward(c, dh, p, g)
        # the gates' gradients are written straight into this step's projection slots
        if self.z_reads == "state":
            z, r = c["zr"][:, :k], c["zr"][:, k:]
            dzr = g.slots[0]
            dz, dr = dzr[:, :k], dzr[:, k:]
        else:
            z, r = c["z"], c["r"]
            dz, dr = g.slots[0], g.slots[1]
        # h = hh + z*(hm - hh)  (GRU)   or   h = hm + z*(hh - hm)  (JZS)
        if self.z_keeps_state:
            np.subtract(hm, hh, out=dz)
        else:
            np.subtract(hh, hm, out=dz)
        dz *= dh
        dh_z = dh * z
        dh_rest = dh - dh_z
        dhh, dhm = (dh_rest, dh_z) if self.z_keeps_state else (dh_z, dh_rest)
        da_h = self.activation.backward_into(c["a_h"], hh, dhh, g.slots[-1])
        drh = da_h @ p["U_h"].T
        np.multiply(drh, hm, out=dr)
        drh *= r
        dhm += drh
        if self.z_reads == "state":
            da_zr = self.inner_activation.backward_into(c["a_zr"], c["zr"], dzr, dzr)
            dhm += da_zr @ p["U_zr"].T
            return (da_zr, da_h), (dhm,)
        # z = g(xz) reads the input only: base applies g's backward to all steps at once
        da_z = dz if self.z_reads == "input" else self.inner_activation.backward_into(c["a_z"], z, dz, dz)
        da_r = self.inner_activation.backward_into(c["a_r"], r, dr, dr)
        dhm += da_r @ p["U_r"].T
        if self.z_reads == "tanh_state":
            dhm += TANH.backward(hm, c["th"], da_z @ p["U_z"].T)
        return (da_z, da_r, da_h), (dhm,)


    def _reset_after_backward(self, c, dh, p, g):
        k, hm, hh = self.output_dim, c["hm"], c["hh"]
        z, r = c["zr"][:, :k], c["zr"][:, k:]
        dzr = g.slots[0]
        dz, dr = dzr[:, :k], dzr[:, k:]
        np.subtract(hm, hh, out=dz)  # h = hh + z*(hm - hh)
        dz *= dh
        dhm = dh * z
        da_h = self.activation.backward_into(c["a_h"], hh, dh - dhm, g.slots[1])
        np.multiply(da_h, c["hU_h"], out=dr)
        da_zr = self.inner_activation.backward_into(c["a_zr"], c["zr"], dzr, dzr)
        dhU = np.concatenate([da_zr, da_h * r], axis=1)  # of hm·U_zrh + bU_zrh
        g.outer("U_zrh", hm, dhU)
        g["bU_zrh"] += dhU.sum(axis=0)
        dhm += dhU @ p["U_zrh"].T
        return (da_zr, da_h), (dhm,)


def _gru_specs(layer, input_shape):
    d, k = input_shape[-1], layer.output_dim
    specs = []
    for gate in "zrh":
        specs += [(f"W_{gate}", (d, k), layer.init), (f"U_{gate}", (k, k), layer.inner_init),
                  (f"b_{gate}", (k,), "zero")]
    return specs


@register_layer
class GRU(GatedRecurrent):
    """`reset_after` (Keras 2.1.5+): the reset gate applied after the recurrent product,
    which has biases of its own: the weights are the nine of reset_after=False (b_* the
    input biases) followed by the recurrent biases bU_z, bU_r, bU_h."""

    default_activation = "sigmoid"  # sic: Keras 0.2.0's default
    default_inner_activation = "hard_sigmoid"
    projection = ([("W_z", "b_z", None), ("W_r", "b_r", None)], [("W_h", "b_h", None)])

    def __init__(self, output_dim, *args, reset_after=False, **kwargs):
        super().__init__(output_dim, *args, **kwargs)
        self.reset_after = _flag(reset_after, "GRU", "reset_after")

    later_config_defaults = dict(GatedRecurrent.later_config_defaults, reset_after=False)

    @property
    def fused(self):
        if self.reset_after:
            return {"U_zrh": ["U_z", "U_r", "U_h"], "bU_zrh": ["bU_z", "bU_r", "bU_h"]}
        return {"U_zr": ["U_z", "U_r"]}

    def param_specs(self, input_shape):
        specs = _gru_specs(self, input_shape)
        if self.reset_after:
            specs += [(f"bU_{gate}", (self.output_dim,), "zero") for gate in "zrh"]
        return specs


@register_layer
class JZS1(GatedRecurrent):
    default_activation = "tanh"
    default_inner_activation = "sigmoid"
    z_reads, z_keeps_state = "input", False
    projection = ([("W_z", "b_z", None)], [("W_r", "b_r", None)], [("P", "b_h", TANH)])

    def param_specs(self, input_shape):
        d, k = input_shape[-1], self.output_dim
        return [("W_z", (d, k), self.init), ("b_z", (k,), "zero"),
                ("W_r", (d, k), self.init), ("U_r", (k, k), self.inner_init), ("b_r", (k,), "zero"),
                ("U_h", (k, k), self.inner_init), ("b_h", (k,), "zero"),
                ("P", (d, k), random_sign_or_identity)]


@register_layer
class JZS2(GatedRecurrent):
    default_activation = "tanh"
    default_inner_activation = "sigmoid"
    z_keeps_state = False
    projection = ([("W_z", "b_z", None), ("P", "b_r", None)], [("W_h", "b_h", None)])
    fused = {"U_zr": ["U_z", "U_r"]}

    def param_specs(self, input_shape):
        d, k = input_shape[-1], self.output_dim
        return [("W_z", (d, k), self.init), ("U_z", (k, k), self.inner_init), ("b_z", (k,), "zero"),
                ("U_r", (k, k), self.inner_init), ("b_r", (k,), "zero"),
                ("W_h", (d, k), self.init), ("U_h", (k, k), self.inner_init), ("b_h", (k,), "zero"),
                ("P", (d, k), random_sign_or_identity)]


@register_layer
class JZS3(GatedRecurrent):
    default_activation = "tanh"
    default_inner_activation = "sigmoid"
    z_reads, z_keeps_state = "tanh_state", False
    projection = ([("W_z", "b_z", None)], [("W_r", "b_r", None)], [("W_h", "b_h", None)])
    param_specs = _gru_specs
