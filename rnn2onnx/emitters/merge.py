"""The merge of several tensors, as Keras 0.2.0's `Merge` (and a Graph node's `inputs=[...]`)
computes it: sum, product, mean or concatenation. Masks do not pass a 0.2.0 merge; the
merge layer of Keras 1.x/2.x functional models (MergeLayer, below) hands on its
release's mask.

The sum and product are chained two at a time in branch order, and the mean divides that
sum by the count, so float rounding is the reference's (reference/containers.py)."""

from onnx import helper

MERGE_OPS = {"sum": "Add", "mul": "Mul", "ave": "Add"}


def emit_merge(g, tensors, mode, concat_axis, name):
    """The merged tensor of `tensors` (batch-major, axis 0 the batch, as Keras's
    concat_axis counts)."""
    if mode == "concat":
        return g.node("Concat", list(tensors), f"{name}/Concat", axis=int(concat_axis))
    op = MERGE_OPS[mode]
    y = tensors[0]
    for t in tensors[1:]:
        y = g.node(op, [y, t], f"{name}/{op}")
    if mode == "ave":
        y = g.node("Div", [y, g.scalar(len(tensors))], f"{name}/Div")
    return y


# ---------------------------------------------------------------------------------------
# the merge layer of functional models (reference/merging.py MergeLayer)

from ..errors import ExportError  # noqa: E402
from . import register  # noqa: E402


@register("MergeLayer")
def emit_merge_layer(layer, ctx, xs, masks):
    """(merged tensor, mask) of a MergeLayer call: the reference's op order (sums and
    products chained in input order), its mask rule (reference/merging.py)."""
    g, name = ctx.g, layer.name
    mode = layer.mode
    if mode in MERGE_OPS or mode == "concat":
        y = emit_merge(g, xs, mode, layer.concat_axis, name)
    elif mode in ("sub", "max", "min"):
        op = {"sub": "Sub", "max": "Max", "min": "Min"}[mode]
        y = xs[0]
        for t in xs[1:]:
            y = g.node(op, [y, t], f"{name}/{op}")
    elif mode == "cos":
        y = _emit_cos(layer, g, xs, name)
    else:
        y = _emit_dot(layer, g, xs, name)
    mask = _emit_merge_mask(layer, g, xs, masks, name)
    ctx.forms[ctx.key] = (LAYER_FORMS[mode].format(n=len(xs), axis=layer.concat_axis, axes=layer.dot_axes)
                          + (", normalized" if mode == "dot" and layer.normalize else ""),
                          "no mask" if mask is None else
                          "mask: the masks joined in time" if _in_time(layer) else
                          "mask: the AND of the inputs' masks")
    return y, mask


#: the plan's form of each mode of MergeLayer
LAYER_FORMS = {"sum": "Add of {n}", "mul": "Mul of {n}", "ave": "Add+Div of {n}", "max": "Max of {n}",
               "min": "Min of {n}", "sub": "Sub", "concat": "Concat(axis={axis})", "dot": "Einsum(axes={axes})",
               "cos": "cosine (ReduceSum+Sqrt+Div)"}


def _emit_dot(layer, g, xs, name):
    s0, s1, out = layer._einsum([(None,) + tuple(s) for s in layer.input_shape])
    if layer.normalize:
        xs = [_l2_normalized(g, x, s.index("z"), layer.normalize_epsilon, f"{name}/normalize")
              for x, s in zip(xs, (s0, s1))]
    y = g.node("Einsum", list(xs), f"{name}/Einsum", equation=f"{s0},{s1}->{out}")
    return g.node("Unsqueeze", [y, g.const([1])], f"{name}/Unsqueeze") if len(out) == 1 else y


def _emit_cos(layer, g, xs, name):
    """Keras 1.x's cos of (batch, n) inputs: dot / max(sqrt(|x0|^2 |x1|^2), epsilon), shape (batch, 1, 1)."""
    def dot(a, b, tag):
        return g.reduce("ReduceSum", g.node("Mul", [a, b], f"{name}/{tag}/Mul"), [1], f"{name}/{tag}", keepdims=1)

    x0, x1 = xs
    norms = g.node("Mul", [dot(x0, x0, "square0"), dot(x1, x1, "square1")], f"{name}/Mul")
    denominator = g.node("Max", [g.node("Sqrt", [norms], f"{name}/Sqrt"), g.scalar(layer.normalize_epsilon)],
                         f"{name}/Max")
    y = g.node("Div", [dot(x0, x1, "dot"), denominator], f"{name}/Div")
    return g.node("Unsqueeze", [y, g.const([2])], f"{name}/Unsqueeze")


def _l2_normalized(g, x, axis, epsilon, name):
    """x / sqrt(max(sum(x^2, axis), epsilon)), as the reference computes it."""
    squares = g.reduce("ReduceSum", g.node("Mul", [x, x], f"{name}/Square"), [axis], f"{name}/ReduceSum", keepdims=1)
    norm = g.node("Sqrt", [g.node("Max", [squares, g.scalar(epsilon)], f"{name}/Max")], f"{name}/Sqrt")
    return g.node("Div", [x, norm], f"{name}/Div")


def _in_time(layer):
    """Whether the layer concatenates sequences in time (their masks are joined in time)."""
    return layer.mode == "concat" and layer.concat_axis % (len(layer.input_shape[0]) + 1) == 1


def _emit_merge_mask(layer, g, xs, masks, name):
    masks = list(masks or [])
    if all(m is None for m in masks) or layer.mode in ("dot", "cos"):
        return None
    if layer.refuse_masks:
        raise ExportError(f"layer {name}: Keras 1.x's Merge mode {layer.mode!r} cannot take masked inputs "
                          "(Keras refuses to build such a model)")
    if _in_time(layer):
        parts = []
        for x, m, shape in zip(xs, masks, layer.input_shape):
            if m is None:
                if shape[-1] != 1:
                    raise ExportError(f"layer {name}: Keras cannot concatenate the masks of masked and unmasked "
                                      "sequences in time unless the unmasked ones have width 1")
                m = g.node("ConstantOfShape", [g.node("Slice", [g.node("Shape", [x], f"{name}/mask/Shape"),
                                                                g.const([0]), g.const([2])], f"{name}/mask/Slice")],
                           f"{name}/mask/ones", value=helper.make_tensor("value", g.elem, [1], [1.0]))
            parts.append(m)
        return g.node("Concat", parts, f"{name}/mask/Concat", axis=1)
    out = None
    for m in masks:
        if m is not None:
            out = m if out is None else g.node("Mul", [out, m], f"{name}/mask/Mul")
    return out
