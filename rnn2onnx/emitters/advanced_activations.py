"""Emitters of Keras 0.2.0's advanced activations (reference/advanced_activations.py):
the reference's formulas op for op, with scalars in the graph's dtype (ONNX's LeakyRelu
takes its alpha as a float32 attribute: inexact in a float64 graph). All hand the mask on."""
from ..activations import emit_activation
from reference.activations import ACTIVATIONS
from . import register


@register("LeakyReLU")
def emit_leaky_relu(layer, ctx, x, mask):
    g, name = ctx.g, layer.name
    linear = g.node("Mul", [x, g.scalar(0.5 * (1 + layer.alpha))], f"{name}/Mul")
    absolute = g.node("Mul", [g.node("Abs", [x], f"{name}/Abs"), g.scalar(0.5 * (1 - layer.alpha))], f"{name}/Mul")
    return g.node("Add", [linear, absolute], f"{name}/Add"), mask


@register("PReLU")
def emit_prelu(layer, ctx, x, mask):
    g, name = ctx.g, layer.name
    half = g.scalar(0.5)
    absolute = g.node("Abs", [x], f"{name}/Abs")
    positive = g.node("Mul", [half, g.node("Add", [x, absolute], f"{name}/Add")], f"{name}/Mul")
    negative = g.node("Mul", [g.initializer(f"{name}/alphas", layer.params["alphas"]),
                              g.node("Sub", [x, absolute], f"{name}/Sub")], f"{name}/Mul")
    negative = g.node("Mul", [negative, half], f"{name}/Mul")
    return g.node("Add", [positive, negative], f"{name}/Add"), mask


@register("ParametricSoftplus")
def emit_parametric_softplus(layer, ctx, x, mask):
    g, name = ctx.g, layer.name
    scaled = g.node("Mul", [g.initializer(f"{name}/betas", layer.params["betas"]), x], f"{name}/Mul")
    soft = emit_activation(g, ACTIVATIONS["softplus"], scaled, name)
    return g.node("Mul", [soft, g.initializer(f"{name}/alphas", layer.params["alphas"])], f"{name}/Mul"), mask


@register("ThresholdedLinear")
def emit_thresholded_linear(layer, ctx, x, mask):
    g, name = ctx.g, layer.name
    below = g.node("Less", [g.node("Abs", [x], f"{name}/Abs"), g.scalar(layer.theta)], f"{name}/Less")
    return g.node("Where", [below, g.scalar(0.0), x], f"{name}/Where"), mask


@register("ThresholdedReLU")
def emit_thresholded_relu(layer, ctx, x, mask):
    g, name = ctx.g, layer.name
    above = g.node("Greater", [x, g.scalar(layer.theta)], f"{name}/Greater")
    return g.node("Where", [above, x, g.scalar(0.0)], f"{name}/Where"), mask


@register("ELU")
def emit_elu(layer, ctx, x, mask):
    """Where(x > 0, x, alpha (e^min(x, 0) - 1)): scalars in the graph's dtype (ONNX's Elu
    takes a float32 alpha attribute, and onnxruntime has no float64 Elu)."""
    g, name = ctx.g, layer.name
    negative = g.node("Sub", [g.node("Exp", [g.node("Min", [x, g.scalar(0.0)], f"{name}/Min")], f"{name}/Exp"),
                              g.scalar(1.0)], f"{name}/Sub")
    negative = g.node("Mul", [negative, g.scalar(layer.alpha)], f"{name}/Mul")
    above = g.node("Greater", [x, g.scalar(0.0)], f"{name}/Greater")
    return g.node("Where", [above, x, negative], f"{name}/Where"), mask


@register("ReLU")
def emit_relu_layer(layer, ctx, x, mask):
    """The reference's formula op for op (scalars in the graph's dtype)."""
    g, name = ctx.g, layer.name
    if layer.threshold:
        above = g.node("Cast", [g.node("Greater", [x, g.scalar(layer.threshold)], f"{name}/Greater")],
                       f"{name}/Cast", to=g.elem)
        y = g.node("Mul", [x, above], f"{name}/Mul")
    elif layer.max_value is None:
        y = g.node("Relu", [x], f"{name}/Relu")
    else:  # clip(relu(x), 0, m) is clip(x, 0, m); onnxruntime's Relu+Clip fusion fails in float64
        y = x
    if layer.max_value is not None:
        y = g.node("Clip", [y, g.scalar(0.0), g.scalar(layer.max_value)], f"{name}/Clip")
    if layer.negative_slope:
        below = g.node("Relu", [g.node("Sub", [g.scalar(layer.threshold), x], f"{name}/Sub")], f"{name}/Relu")
        y = g.node("Sub", [y, g.node("Mul", [below, g.scalar(layer.negative_slope)], f"{name}/Mul")], f"{name}/Sub")
    return y, mask


@register("Softmax")
def emit_softmax_layer(layer, ctx, x, mask):
    # opset 13+: Softmax normalises along `axis` alone
    return ctx.g.node("Softmax", [x], f"{layer.name}/Softmax", axis=layer.axis), mask
