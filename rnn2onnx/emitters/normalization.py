"""Emitters of BatchNormalization and ActivityRegularization (reference/normalization.py,
reference/layers.py): their prediction-mode formulas, op for op."""
import numpy as np

from . import register
from .layers import refuse_mask


@register("BatchNormalization")
def emit_batch_normalization(layer, ctx, x, mask):
    if layer.axis is None:  # 0.2.0's; Keras 1.x/2.x's hands the mask on
        refuse_mask(layer, mask)
    g, name = ctx.g, layer.name
    rank = len(layer.input_shape) + 1
    p = {k: layer.broadcast(v, rank) for k, v in layer.params.items()}  # Keras 1.x/2.x: along `axis`
    eps = g.dtype.type(layer.epsilon)
    if layer.mode == 0:  # running statistics, as in training
        centred = g.node("Sub", [x, g.initializer(f"{name}/running_mean", p["running_mean"])], f"{name}/Sub")
        # the divisor computed as the reference does (in the model's dtype): sqrt(var + eps)
        # for a variance (Keras 1.x/2.x), std + eps for 0.2.0's std
        std = p["running_std"].astype(g.dtype)
        divisor = np.sqrt(std + eps) if layer.variance else std + eps
        scale = g.initializer(f"{name}/running_std_eps", divisor)
    else:  # each sample over its last axis, population std
        mean = g.reduce("ReduceMean", x, [-1], f"{name}/mean", keepdims=1)
        centred = g.node("Sub", [x, mean], f"{name}/Sub")
        # the mean of squares as a MatMul with ones: tract 0.23 fuses Square + Reduce into a
        # float32 kernel even in a float64 graph (errors ~3e-8)
        n = layer.input_shape[-1]
        ones = g.initializer(f"{name}/ones", np.ones((n, 1)))
        square = g.node("Mul", [centred, centred], f"{name}/Square")
        var = g.node("Div", [g.node("MatMul", [square, ones], f"{name}/SumSquares"), g.scalar(n)], f"{name}/var")
        if layer.variance:  # Keras 1.x: sqrt(var + eps) + eps
            var = g.node("Add", [var, g.scalar(layer.epsilon)], f"{name}/var_eps")
        scale = g.node("Add", [g.node("Sqrt", [var], f"{name}/std"), g.scalar(layer.epsilon)], f"{name}/std_eps")
    normed = g.node("Div", [centred, scale], f"{name}/Div")
    y = g.node("Mul", [normed, g.initializer(f"{name}/gamma", p["gamma"])], f"{name}/Mul")
    return g.node("Add", [y, g.initializer(f"{name}/beta", p["beta"])], f"{name}/Add"), layer.output_mask(mask)


@register("ActivityRegularization")
def emit_activity_regularization(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    return x, None  # a training-only penalty: identity at prediction
