"""Emitters of the non-recurrent layers."""
import numpy as np

from ..errors import ExportError
from ..activations import emit_activation
from . import register


def refuse_mask(layer, mask):
    """0.2.0's plain layers cannot follow a mask (the reference refuses it as well)."""
    if mask is not None and not getattr(layer, "drop_mask", False):  # tf.keras drops it silently
        raise ExportError(f"layer {layer.name}: {type(layer).__name__} cannot follow a layer with a mask "
                          "(Keras 0.2.0 refused to connect it)")


@register("Embedding")
def emit_embedding(layer, ctx, ids, mask):
    g = ctx.g
    y = g.node("Gather", [g.initializer(f"{layer.name}/E", layer.params["E"]), ids], f"{layer.name}/Gather")
    if not layer.mask_zero:
        return y, None
    nonzero = g.node("Not", [g.node("Equal", [ids, g.const(0)], f"{layer.name}/Equal")], f"{layer.name}/Not")
    return y, g.node("Cast", [nonzero], f"{layer.name}/mask", to=g.elem)


@register("Masking")
def emit_masking(layer, ctx, x, mask):
    g, name = ctx.g, layer.name
    differs = g.node("Not", [g.node("Equal", [x, g.scalar(layer.mask_value)], f"{name}/Equal")], f"{name}/Not")
    differs = g.node("Cast", [differs], f"{name}/Cast", to=g.elem)
    new_mask = g.reduce_max(differs, [-1], f"{name}/mask")
    keep = g.node("Unsqueeze", [new_mask, g.const([-1])], f"{name}/Unsqueeze")
    return g.node("Mul", [x, keep], f"{name}/Mul"), new_mask


@register("Dense", "TimeDistributedDense")
def emit_dense(layer, ctx, x, mask):
    g, name = ctx.g, layer.name
    a = g.node("MatMul", [x, g.initializer(f"{name}/W", layer.params["W"])], f"{name}/MatMul")
    a = g.node("Add", [a, g.initializer(f"{name}/b", layer.params["b"])], f"{name}/Add")
    return emit_activation(g, layer.activation, a, name), layer.output_mask(mask)


@register("Activation")
def emit_activation_layer(layer, ctx, x, mask):
    return emit_activation(ctx.g, layer.activation, x, layer.name), mask


@register("Dropout")
def emit_dropout(layer, ctx, x, mask):
    if layer.p == 0:
        return x, mask
    return ctx.g.node("Mul", [x, ctx.g.scalar(1.0 - layer.p)], f"{layer.name}/Mul"), mask


@register("RepeatVector")
def emit_repeat_vector(layer, ctx, x, mask):
    g, name = ctx.g, layer.name
    refuse_mask(layer, mask)
    column = g.node("Unsqueeze", [x, g.const([1])], f"{name}/Unsqueeze")
    # n copies side by side, not Expand or Tile: tract 0.23 fails to declutter a float64
    # Tile/Expand feeding the next layer's MatMul ("running pass declutter")
    return g.node("Concat", [column] * layer.n, f"{name}/Concat", axis=1), None


@register("Reshape")
def emit_reshape(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    g = ctx.g
    return g.node("Reshape", [x, g.const([0] + list(layer.dims))], f"{layer.name}/Reshape"), None


@register("Permute")
def emit_permute(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    return ctx.g.node("Transpose", [x], f"{layer.name}/Transpose", perm=[0] + list(layer.dims)), None


@register("Flatten")
def emit_flatten(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    return ctx.g.node("Flatten", [x], f"{layer.name}/Flatten", axis=1), None


@register("TimeDistributedMerge")
def emit_time_distributed_merge(layer, ctx, x, mask):
    g, name = ctx.g, layer.name
    if layer.mode == "max":  # Keras 1.x/2.x GlobalMaxPooling1D
        refuse_mask(layer, mask)
        return g.reduce_max(x, [1], f"{name}/ReduceMax", keepdims=0), None
    if mask is not None and layer.masked_mean:  # 2.2.3+ GlobalAveragePooling1D: over the unmasked steps
        m = g.node("Unsqueeze", [mask, g.const([-1])], f"{name}/Unsqueeze")
        total = g.reduce("ReduceSum", g.node("Mul", [x, m], f"{name}/Mul"), [1], f"{name}/ReduceSum")
        count = g.reduce("ReduceSum", m, [1], f"{name}/count")
        return g.node("Div", [total, count], f"{name}/Div"), None
    refuse_mask(layer, mask)
    total = g.reduce("ReduceSum", x, [1], f"{name}/ReduceSum")
    if layer.mode == "sum":
        return total, None
    # 'ave': the sum divided by the length, as 0.2.0 computed it
    length = g.node("Gather", [g.node("Shape", [x], f"{name}/Shape"), g.const(1)], f"{name}/length")
    return g.node("Div", [total, g.node("Cast", [length], f"{name}/Cast", to=g.elem)], f"{name}/Div"), None


@register("MaxoutDense")
def emit_maxout_dense(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    g, name = ctx.g, layer.name
    f, d, k = layer.params["W"].shape
    # the pieces side by side: one (d, f*k) product, then the max over the f pieces
    W = np.ascontiguousarray(np.transpose(layer.params["W"], (1, 0, 2)).reshape(d, f * k))
    a = g.node("MatMul", [x, g.initializer(f"{name}/W", W)], f"{name}/MatMul")
    a = g.node("Add", [a, g.initializer(f"{name}/b", layer.params["b"].reshape(f * k))], f"{name}/Add")
    pieces = g.node("Reshape", [a, g.const([0, f, k])], f"{name}/Reshape")
    return g.reduce_max(pieces, [1], f"{name}/ReduceMax"), None


@register("GaussianNoise", "GaussianDropout")
def emit_noise(layer, ctx, x, mask):
    return x, mask  # training-only noise: the identity at prediction
