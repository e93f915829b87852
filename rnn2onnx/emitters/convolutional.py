"""Emitters of Convolution1D and MaxPooling1D (reference/convolutional.py).

Both are written as one strided Slice per filter tap over the (batch, time, features)
tensor: the convolution is sum_k Slice_k(X padded) @ W_k (W_k the flipped kernel's tap
k, a (features, filters) matrix), the pooling max_k Slice_k(X). Slice, MatMul, Add and
Max have float64 kernels in onnxruntime, OpenVINO and tract alike (onnxruntime 1.32's Conv
has none: "Could not find an implementation for Conv(11)"), the sequence length stays
dynamic (also for ignore_border=False, whose window count the graph computes), no
transposes are needed, and one form serves both dtypes.
"""
import numpy as np

from ..graph import emit_activation
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
    g, name, K = ctx.g, layer.name, layer.filter_length
    left, right = layer.pads
    if left or right:
        x = g.node("Pad", [x, g.const([0, left, 0, 0, right, 0])], f"{name}/Pad")
    W = layer.params["W"]
    out = None
    for k in range(K):
        kernel = g.initializer(f"{name}/W{k}", np.ascontiguousarray(W[:, :, K - 1 - k, 0].T))
        term = g.node("MatMul", [_tap(g, x, k, K, layer.subsample_length, name), kernel], f"{name}/MatMul{k}")
        out = term if out is None else g.node("Add", [out, term], f"{name}/Sum{k}")
    out = g.node("Add", [out, g.initializer(f"{name}/b", layer.params["b"])], f"{name}/Add")
    return emit_activation(g, layer.activation, out, name), None


@register("MaxPooling1D")
def emit_max_pooling1d(layer, ctx, x, mask):
    refuse_mask(layer, mask)
    g, name, p, st = ctx.g, layer.name, layer.pool_length, layer.stride
    if layer.ignore_border:
        taps = [_tap(g, x, k, p, st, name) for k in range(p)]
    else:
        taps = _partial_window_taps(g, x, p, st, name)
    return (taps[0] if p == 1 else g.node("Max", taps, f"{name}/Max")), None


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
