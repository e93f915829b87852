"""Emitters of Convolution1D and MaxPooling1D (reference/convolutional.py).

Both are written as one strided Slice per filter tap over the (batch, time, features)
tensor: the convolution is sum_k Slice_k(X padded) @ W_k (W_k tap k of the kernel, flipped
for a true convolution, a (features, filters) matrix; taps dilation_rate apart), the pooling
max_k Slice_k(X) (the average: their sum over the steps each window holds). Slice, MatMul, Add and
Max have float64 kernels in onnxruntime, OpenVINO and tract alike (onnxruntime 1.32's Conv
has none: "Could not find an implementation for Conv(11)"), the sequence length stays
dynamic (also for ignore_border=False, whose window count the graph computes), no
transposes are needed, and one form serves both dtypes.
"""
import numpy as np
from onnx import numpy_helper

from ..activations import emit_activation
from . import register
from .layers import refuse_mask

LAST = np.iinfo(np.int64).max  # a Slice end meaning "to the end"


def _tap(g, x, k, span, stride, name):
    """x[:, k : L - (span-1-k) : stride] — tap k of windows `span` long."""
    end = LAST if k == span - 1 else -(span - 1 - k)
    return g.node("Slice", [x, g.const([k]), g.const([end]), g.const([1]), g.const([stride])], f"{name}/tap{k}")


@register("Convolution1D")
def emit_convolution1d(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    g, name, d = ctx.g, layer.name, layer.dilation_rate
    if layer.static_pads:
        left, right = layer.pads
        if left or right:
            x = g.node("Pad", [x, g.const([0, left, 0, 0, right, 0])], f"{name}/Pad")
    else:
        x = g.node("Pad", [x, _same_pads(g, x, layer.span, layer.subsample_length, name)], f"{name}/Pad")
    out = None
    for k, matrix in enumerate(layer.tap_kernels()):
        kernel = g.initializer(f"{name}/W{k}", matrix)
        term = g.node("MatMul", [_tap(g, x, k * d, layer.span, layer.subsample_length, name), kernel],
                      f"{name}/MatMul{k}")
        out = term if out is None else g.node("Add", [out, term], f"{name}/Sum{k}")
    out = g.node("Add", [out, g.initializer(f"{name}/b", layer.params["b"])], f"{name}/Add")
    return emit_activation(g, layer.activation, out, name), None


def _same_pads(g, x, span, stride, name):
    """TensorFlow's SAME padding of a strided window, from the input's length L:
    total = max((ceil(L/s) - 1)*s + span - L, 0), total//2 zeros first (Pad's pads input)."""
    length = g.node("Gather", [g.node("Shape", [x], f"{name}/Shape"), g.const([1])], f"{name}/length")
    steps = g.node("Div", [g.node("Add", [length, g.const([stride - 1])], f"{name}/Add"), g.const([stride])],
                   f"{name}/steps")
    reach = g.node("Add", [g.node("Mul", [steps, g.const([stride])], f"{name}/Mul"), g.const([span - stride])],
                   f"{name}/reach")
    total = g.node("Max", [g.node("Sub", [reach, length], f"{name}/Sub"), g.const([0])], f"{name}/total")
    left = g.node("Div", [total, g.const([2])], f"{name}/left")
    right = g.node("Sub", [total, left], f"{name}/right")
    return g.node("Concat", [g.const([0]), left, g.const([0, 0]), right, g.const([0])], f"{name}/pads", axis=0)


@register("MaxPooling1D", "AveragePooling1D")
def emit_pooling1d(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    g, name, p, st = ctx.g, layer.name, layer.pool_length, layer.stride
    average = layer.pool_mode == "average"
    if layer.border_mode == "same":
        taps = _same_taps(g, layer, x, 0.0 if average else -np.inf, name)
    elif layer.ignore_border:
        taps = [_tap(g, x, k, p, st, name) for k in range(p)]
    else:
        taps = _partial_window_taps(g, x, p, st, name)
    if not average:
        return (taps[0] if p == 1 else g.node("Max", taps, f"{name}/Max")), None
    total = taps[0] if p == 1 else g.node("Sum", taps, f"{name}/Sum")
    if layer.border_mode != "same" or layer.count_pad:
        return g.node("Div", [total, g.scalar(p)], f"{name}/Div"), None
    # the steps of the sequence each window holds: the same windows over ones
    length = g.node("Gather", [g.node("Shape", [x], f"{name}/Shape"), g.const([1])], f"{name}/length")
    shape = g.node("Concat", [g.const([1]), length, g.const([1])], f"{name}/ones_shape", axis=0)
    ones = g.node("ConstantOfShape", [shape], f"{name}/ones",
                  value=numpy_helper.from_array(np.ones(1, dtype=g.dtype)))
    counts = _same_taps(g, layer, ones, 0.0, f"{name}/count")
    count = counts[0] if p == 1 else g.node("Sum", counts, f"{name}/count/Sum")
    return g.node("Div", [total, count], f"{name}/Div"), None


def _same_taps(g, layer, x, fill, name):
    """'same' pooling's p taps: x padded with `fill` (left: the layer's rule; p-1 after),
    tap k = padded[:, k : k + (T-1)*s + 1 : s] with T = ceil(L/s) windows."""
    p, st = layer.pool_length, layer.stride
    length = g.node("Gather", [g.node("Shape", [x], f"{name}/Shape"), g.const([1])], f"{name}/length")
    steps = g.node("Div", [g.node("Add", [length, g.const([st - 1])], f"{name}/Add"), g.const([st])],
                   f"{name}/steps")
    last = g.node("Mul", [g.node("Sub", [steps, g.const([1])], f"{name}/Sub"), g.const([st])], f"{name}/last")
    left = layer.static_left
    if left is not None:
        pads = g.const([0, left, 0, 0, p - 1, 0])
    else:  # TensorFlow's SAME with a stride: total//2 of max((T-1)*s + p - L, 0)
        total = g.node("Max", [g.node("Sub", [g.node("Add", [last, g.const([p])], f"{name}/reach"), length],
                                      f"{name}/over"), g.const([0])], f"{name}/total")
        left_t = g.node("Div", [total, g.const([2])], f"{name}/left")
        pads = g.node("Concat", [g.const([0]), left_t, g.const([0, 0, p - 1, 0])], f"{name}/pads", axis=0)
    x = g.node("Pad", [x, pads, g.scalar(fill)], f"{name}/Pad")
    taps = []
    for k in range(p):
        end = g.node("Add", [last, g.const([k + 1])], f"{name}/end{k}")
        taps.append(g.node("Slice", [x, g.const([k]), end, g.const([1]), g.const([st])], f"{name}/tap{k}"))
    return taps


def _partial_window_taps(g, x, p, st, name):
    """ignore_border=False: Theano's windows start at 0, st, ... (count in
    reference/convolutional.py); the last ones may overrun the sequence. X is padded
    at the end with p-1 steps of -inf (never a max: every window starts inside the
    sequence) and tap k is X[:, k : k + E : st] with E = (max(0, L-1-q) // st) * st + 1,
    q = 0 if st >= p else p - st (the count's two cases in one formula, on L >= 1)."""
    if p > 1:
        x = g.node("Pad", [x, g.const([0, 0, 0, 0, p - 1, 0]), g.scalar(-np.inf)], f"{name}/Pad")
    q = 0 if st >= p else p - st
    length = g.node("Gather", [g.node("Shape", [x], f"{name}/Shape"), g.const([1])], f"{name}/padded_length")
    # L - 1 - q with L = padded length - (p - 1)
    span = g.node("Max", [g.node("Sub", [length, g.const([p + q])], f"{name}/Sub"), g.const([0])], f"{name}/span")
    whole = g.node("Mul", [g.node("Div", [span, g.const([st])], f"{name}/Div"), g.const([st])], f"{name}/whole")
    taps = []
    for k in range(p):
        end = g.node("Add", [whole, g.const([k + 1])], f"{name}/end{k}")
        taps.append(g.node("Slice", [x, g.const([k]), end, g.const([1]), g.const([st])], f"{name}/tap{k}"))
    return taps


@register("ZeroPadding1D")
def emit_zero_padding1d(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    g = ctx.g
    return g.node("Pad", [x, g.const([0, layer.left_pad, 0, 0, layer.right_pad, 0])], f"{layer.name}/Pad"), None


@register("Cropping1D")
def emit_cropping1d(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    g = ctx.g
    end = LAST if layer.right_crop == 0 else -layer.right_crop
    return g.node("Slice", [x, g.const([layer.left_crop]), g.const([end]), g.const([1])], f"{layer.name}/Slice"), None


@register("UpSampling1D")
def emit_upsampling1d(layer, ctx, x, mask):
    """Each step `size` times: (n, T, 1, d) copies side by side on axis 2, then (n, T*size, d)
    (Concat, not Expand/Tile: as RepeatVector's form, for tract's float64)."""
    refuse_mask(layer, mask)
    g, name = ctx.g, layer.name
    column = g.node("Unsqueeze", [x, g.const([2])], f"{name}/Unsqueeze")
    copies = g.node("Concat", [column] * layer.size, f"{name}/Concat", axis=2)
    return g.node("Reshape", [copies, g.const([0, -1, layer.input_shape[-1]])], f"{name}/Reshape"), None
