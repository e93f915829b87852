"""The recurrent layers: choose the native, masked native or loop form, then emit it.

A native op is exact only when nothing it cannot express is in play: onnxruntime's CPU
LSTM/GRU/RNN kernels are float32-only, and some activations (and more for
target="portable") are not native. Keras's mask rule (the previous step's mask resets
the carried state) has no native attribute, but it can be lowered exactly around the op
(masked_native.py): always for return_sequences=False ("native-segment"), and with
return_sequences=True when a reset step can zero the state exactly ("native-reset").
"""
import copy

from onnx import helper

from ..errors import ExportError
from . import register
from .loop import emit_loop
from .masked_native import emit_masked_last, emit_masked_sequences, why_not_reset
from .native import NATIVE, emit_native, why_not_native

RECURRENT = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")

# auto: below which batch size a masked native form beats the Scan it replaces, by
# (native op, return_sequences); measured with `rnn2onnx bench` (masked/Scan ratios at
# batch 1..32). None: at every batch size measured. A form with a threshold is emitted
# as an `If` on the batch size (both branches exact); target="portable" gets no `If`
# and uses the masked native form only where it has no threshold.
SMALL_BATCH = {("LSTM", False): None, ("LSTM", True): 16, ("GRU", False): 8, ("GRU", True): 8}


def choose_form(layer, ctx, masked):
    """('native' | 'native-segment' | 'native-reset' | 'loop', reason) for this layer under
    ctx.strategy and ctx.target."""
    if ctx.strategy == "loop":
        return "loop", "strategy='loop'"
    kind = type(layer).__name__
    reason = why_not_native(layer, ctx.target)
    if reason is None and ctx.g.dtype != "float32":
        reason = "onnxruntime's native LSTM/GRU/RNN kernels are float32-only"
    if reason is None and masked and layer.return_sequences:
        reason = why_not_reset(layer)
        if reason is not None:
            reason = (f"a mask reaches it and, with return_sequences=True, {reason}; the Keras mask rule "
                      "(the previous step's mask resets the carried state) then has no exact native form")
    if reason is None and kind == "SimpleRNN" and ctx.strategy == "auto":
        # measured (rnn2onnx bench): onnxruntime's RNN op is 1-10x slower than the loop
        # form at every batch size we tried, unlike its LSTM/GRU ops at small batches
        return "loop", "the loop form is faster than onnxruntime's RNN op"
    if reason is None:
        op = NATIVE[kind][0]
        if not masked:
            return "native", f"exact as ONNX {op}"
        form, how = (("native-segment", "on each row's last mask segment") if not layer.return_sequences else
                     ("native-reset", "with reset steps between mask segments"))
        limit = SMALL_BATCH.get((op, layer.return_sequences))
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
        "native-segment": emit_masked_last, "native-reset": emit_masked_sequences, "loop": emit_loop}


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
        y = emit_batch_switch(layer, ctx, x, mask, form.split("|"), SMALL_BATCH[
            (NATIVE[type(layer).__name__][0], layer.return_sequences)])
    else:
        y = EMIT[form](layer, ctx, x, mask)
    return y, layer.output_mask(mask)
