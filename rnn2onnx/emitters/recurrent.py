"""The recurrent layers: choose the native, masked native or loop form, then emit it.

A native op is exact only when nothing it cannot express is in play: onnxruntime's CPU
LSTM/GRU/RNN kernels are float32-only, and some activations (and more for
target="portable") are not native. Keras's mask rule (the previous step's mask resets
the carried state) has no native attribute, but it can be lowered exactly around the op
(masked_native.py): "native-segment" for return_sequences=False; with
return_sequences=True "native-reset" when a reset step can zero the state exactly, else
"native-rows".
"""
import copy

from onnx import helper

from ..errors import ExportError
from . import register
from .loop import emit_loop
from .masked_native import emit_masked_last, emit_masked_rows, emit_masked_sequences, why_not_reset
from .native import NATIVE, emit_native, why_not_native

RECURRENT = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")

# auto: below which batch size a masked native form beats the Scan it replaces, by
# (form, native op); measured with `rnn2onnx bench` (e) and masked/Scan ratios at batch
# 1..64, left padding and holes. None: at every batch size measured. A form with a limit
# is emitted as an `If` on the batch size (both branches exact); target="portable" gets
# no `If` and uses a masked native form only where it has no limit.
SMALL_BATCH = {
    ("native-segment", "LSTM"): None,  # 0.2x the Scan at batch 1, 0.7-0.9x at 16-64
    ("native-segment", "GRU"): 8,      # onnxruntime's GRU op is slower than the Scan from batch 8-16
    ("native-reset", "LSTM"): 16,      # 0.3x at batch 1, 0.7x at 8, about 1x from 16
    ("native-reset", "GRU"): 8,
    ("native-rows", "LSTM"): 2,        # 0.4-0.5x at batch 1; segments become rows: 1.4-7x at batch 4 with holes
    ("native-rows", "GRU"): 2,
}


def choose_form(layer, ctx, masked):
    """(form, reason) for this layer under ctx.strategy and ctx.target; form is 'native',
    'native-segment', 'native-reset', 'native-rows', 'loop', or 'F|loop': an If on the
    batch size, masked native form F below SMALL_BATCH's limit."""
    if ctx.strategy == "loop":
        return "loop", "strategy='loop'"
    kind = type(layer).__name__
    reason = why_not_native(layer, ctx.target)
    if reason is None and ctx.g.dtype != "float32":
        reason = "onnxruntime's native LSTM/GRU/RNN kernels are float32-only"
    if reason is None and kind == "SimpleRNN" and ctx.strategy == "auto":
        # measured (rnn2onnx bench): onnxruntime's RNN op is 1-10x slower than the loop
        # form at every batch size we tried, unlike its LSTM/GRU ops at small batches
        return "loop", "the loop form is faster than onnxruntime's RNN op"
    if reason is None:
        op = NATIVE[kind][0]
        if not masked:
            return "native", f"exact as ONNX {op}"
        if not layer.return_sequences:
            form, how = "native-segment", "on each row's last mask segment"
        elif why_not_reset(layer) is None:
            form, how = "native-reset", "with reset steps between mask segments"
        else:  # exact for every activation, but 1.3-3x the reset form's time where both exist
            form, how = "native-rows", "with each mask segment as a row of its own"
        limit = SMALL_BATCH.get((form, op))
        if ctx.strategy == "native" or limit is None:
            return form, f"exact as ONNX {op} {how}"
        if ctx.target != "portable":
            return (f"{form}|loop", f"exact as ONNX {op} {how} below batch {limit}, the loop form "
                                    f"from batch {limit} (faster there, measured)")
        reason = (f"a mask reaches it, and its exact native form ({form}) is slower than the loop form "
                  f"from batch {limit} (measured)")
    if ctx.strategy == "native":
        raise ExportError(f"layer {layer.name} ({kind}) cannot be exported natively: {reason}; "
                          "use strategy='auto' or strategy='loop'")
    return "loop", reason


EMIT = {"native": lambda layer, ctx, x, mask: emit_native(layer, ctx, x),
        "native-segment": emit_masked_last, "native-reset": emit_masked_sequences, "native-rows": emit_masked_rows,
        "loop": emit_loop}


def emit_batch_switch(layer, ctx, x, mask, forms, limit):
    """`If` batch < limit: forms[0], else forms[1]; each branch a subgraph reading x and
    mask from the outer scope."""
    g, name = ctx.g, layer.name
    batch = g.node("Gather", [g.node("Shape", [x], f"{name}/Shape"), g.const(0)], f"{name}/batch")
    small = g.node("Less", [batch, g.const(limit)], f"{name}/small_batch")
    branches = []
    for form in forms:
        sub = copy.copy(ctx)
        sub.g = g.subgraph(f"{name}/{form}")
        y = EMIT[form](layer, sub, x, mask)
        sub.g.outputs = [helper.make_tensor_value_info(y, g.elem, None)]
        branches.append(sub.g.make_graph())
    return g.node("If", [small], f"{name}/If", then_branch=branches[0], else_branch=branches[1])


@register(*RECURRENT)
def emit_recurrent(layer, ctx, x, mask):
    form, reason = choose_form(layer, ctx, mask is not None)
    ctx.forms[layer.name] = (form, reason)
    if "|" in form:
        native_form = form.split("|")[0]
        y = emit_batch_switch(layer, ctx, x, mask, form.split("|"),
                              SMALL_BATCH[(native_form, NATIVE[type(layer).__name__][0])])
    else:
        y = EMIT[form](layer, ctx, x, mask)
    return y, layer.output_mask(mask)
