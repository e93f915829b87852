"""Emitters of BatchNormalization and ActivityRegularization (reference/normalization.py,
reference/layers.py): their prediction-mode formulas, op for op."""
import numpy as np

from . import register
from .layers import refuse_mask


@register("BatchNormalization")
def emit_batch_normalization(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    g, name, p = ctx.g, layer.name, layer.params
    if layer.mode == 0:  # running statistics, as in training
        centred = g.node("Sub", [x, g.initializer(f"{name}/running_mean", p["running_mean"])], f"{name}/Sub")
        # std + epsilon computed as the reference does (in the model's dtype)
        scale = g.initializer(f"{name}/running_std_eps", p["running_std"] + g.dtype.type(layer.epsilon))
    else:  # each sample over its last axis, population std
        mean = g.reduce("ReduceMean", x, [-1], f"{name}/mean", keepdims=1)
        centred = g.node("Sub", [x, mean], f"{name}/Sub")
        # the mean of squares as a MatMul with ones: tract 0.23 fuses Square + Reduce into a
        # float32 kernel even in a float64 graph (errors ~3e-8)
        n = layer.params["gamma"].shape[-1]
        ones = g.initializer(f"{name}/ones", np.ones((n, 1)))
        square = g.node("Mul", [centred, centred], f"{name}/Square")
        var = g.node("Div", [g.node("MatMul", [square, ones], f"{name}/SumSquares"), g.scalar(n)], f"{name}/var")
        scale = g.node("Add", [g.node("Sqrt", [var], f"{name}/std"), g.scalar(layer.epsilon)], f"{name}/std_eps")
    normed = g.node("Div", [centred, scale], f"{name}/Div")
    y = g.node("Mul", [normed, g.initializer(f"{name}/gamma", p["gamma"])], f"{name}/Mul")
    return g.node("Add", [y, g.initializer(f"{name}/beta", p["beta"])], f"{name}/Add"), None


@register("ActivityRegularization")
def emit_activity_regularization(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    return x, None  # a training-only penalty: identity at prediction
