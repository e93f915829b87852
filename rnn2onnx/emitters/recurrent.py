"""The recurrent layers: choose the native, masked native or loop form, then emit it.

A native op is exact only when nothing it cannot express is in play: onnxruntime's CPU
LSTM/GRU/RNN kernels are float32-only, and some activations (and more for
target="portable") are not native. Keras's mask rule (the previous step's mask resets
the carried state) has no native attribute, but it can be lowered exactly around the op
(masked_native.py): always for return_sequences=False ("native-segment"), and with
return_sequences=True when a reset step can zero the state exactly ("native-reset").
"""
from ..errors import ExportError
from . import register
from .loop import emit_loop
from .masked_native import emit_masked_last, emit_masked_sequences, why_not_reset
from .native import NATIVE, emit_native, why_not_native

RECURRENT = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")


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
        if not layer.return_sequences:
            return "native-segment", f"exact as ONNX {op} on each row's last mask segment"
        return "native-reset", f"exact as ONNX {op} with reset steps between mask segments"
    if ctx.strategy == "native":
        raise ExportError(f"layer {layer.name} ({kind}) cannot be exported natively: {reason}; "
                          "use strategy='auto' or strategy='loop'")
    return "loop", reason


@register(*RECURRENT)
def emit_recurrent(layer, ctx, x, mask):
    form, reason = choose_form(layer, ctx, mask is not None)
    ctx.forms[layer.name] = (form, reason)
    emit = {"native": lambda: emit_native(layer, ctx, x),
            "native-segment": lambda: emit_masked_last(layer, ctx, x, mask),
            "native-reset": lambda: emit_masked_sequences(layer, ctx, x, mask),
            "loop": lambda: emit_loop(layer, ctx, x, mask)}[form]
    y = emit()
    return y, layer.output_mask(mask)
