"""The recurrent layers: choose the native, masked native or loop form, then emit it.

A native op is exact only when nothing it cannot express is in play: onnxruntime's CPU
LSTM/GRU/RNN kernels are float32-only, and some activations (for target="portable" all
but ONNX's default ones: see native.PORTABLE_ACTIVATIONS) are not native. Keras's mask
rule (the previous step's mask resets the carried state) has no native attribute, but it
can be lowered exactly around the op (masked_native.py): "native-segment" for
return_sequences=False; with return_sequences=True "native-reset" when a reset step can
zero the state exactly, else "native-rows".
"""
from ..errors import ExportError
from . import register
from .loop import emit_loop
from .masked_native import emit_masked_last, emit_masked_rows, emit_masked_sequences, why_not_reset
from .native import NATIVE, emit_native, why_not_masked_native, why_not_native

RECURRENT = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")

# The masked native forms auto uses: those never slower than the Scan they replace at
# any batch size measured (`rnn2onnx bench` (e), and masked/Scan ratios at batch 1-64 with
# left padding and holes; batch-independent rules). The others beat the Scan at batch 1
# (0.2-0.5x) but lose at larger batches (onnxruntime's native GRU is slower than the Scan
# from batch 8-16; the rows form grows with the number of segments): strategy="native"
# uses them. (An `If` on the batch size would pick both ways, but OpenVINO 2026.4
# computes some graphs holding such an `If` wrongly: If -> Mul -> MatMul -> Scan.)
AUTO_MASKED = {
    ("native-segment", "LSTM"): "0.2x the Scan at batch 1, 0.7-0.9x at batch 16-64",
    ("native-reset", "LSTM"): "0.3x the Scan at batch 1, 0.7-1.0x at batch 8-64",
}
SLOWER_AT_LARGE_BATCH = {
    ("native-segment", "GRU"): "onnxruntime's GRU op is slower than the Scan from batch 8-16",
    ("native-reset", "GRU"): "onnxruntime's GRU op is slower than the Scan from batch 8-16",
    ("native-rows", "GRU"): "each mask segment becomes a row: 1.4-7x the Scan at batch 4 with holes",
    ("native-rows", "LSTM"): "each mask segment becomes a row: 1.4-7x the Scan at batch 4 with holes",
}


def choose_form(layer, ctx, masked):
    """(form, reason) for this layer under ctx.strategy and ctx.target; form is 'native',
    'native-segment', 'native-reset', 'native-rows' or 'loop'."""
    if ctx.strategy == "loop":
        return "loop", "strategy='loop'"
    kind = type(layer).__name__
    reason = why_not_native(layer, ctx.target)
    if reason is None and ctx.g.dtype != "float32":
        reason = "onnxruntime's native LSTM/GRU/RNN kernels are float32-only"
    if reason is None and masked:
        reason = why_not_masked_native(ctx.target)
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
        if ctx.strategy == "native" or (form, op) in AUTO_MASKED:
            return form, f"exact as ONNX {op} {how}"
        reason = (f"a mask reaches it, and its exact native form ({form}, strategy='native') is slower than "
                  f"the loop form at larger batches: {SLOWER_AT_LARGE_BATCH[(form, op)]} (measured)")
        return "loop", reason
    if ctx.strategy == "native":
        raise ExportError(f"layer {layer.name} ({kind}) cannot be exported natively: {reason}; "
                          "use strategy='auto' or strategy='loop'")
    return "loop", reason


EMIT = {"native": lambda layer, ctx, x, mask: emit_native(layer, ctx, x),
        "native-segment": emit_masked_last, "native-reset": emit_masked_sequences, "native-rows": emit_masked_rows,
        "loop": emit_loop}


@register(*RECURRENT)
def emit_recurrent(layer, ctx, x, mask):
    form, reason = choose_form(layer, ctx, mask is not None)
    ctx.forms[ctx.key] = (form, reason)
    if ctx.g.shapes_only:
        # a plan (rnn2onnx.plan, `inspect`) needs the form, not the nodes: emitting them
        # would compute the ONNX weights (concatenated, transposed: 576 MB for one
        # LSTM(6000)) from weights that were never allocated
        return ctx.g.node("Identity", [x], f"{layer.name}/{form}"), layer.output_mask(mask)
    y = EMIT[form](layer, ctx, x, mask)
    return y, layer.output_mask(mask)
