"""The recurrent layers: choose the native or the loop form, then emit it.

A native op is exact only when nothing it cannot express is in play: Keras's mask
rule (the previous step's mask resets the carried state) has no native equivalent,
onnxruntime's CPU LSTM/GRU/RNN kernels are float32-only, and some activations
(and for target="portable" all but ONNX's default ones: see native.PORTABLE_ACTIVATIONS)
are not native.
"""
from ..errors import ExportError
from . import register
from .loop import emit_loop
from .native import emit_native, why_not_native

RECURRENT = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")


def choose_form(layer, ctx, masked):
    """('native' | 'loop', reason) for this layer under ctx.strategy and ctx.target."""
    if ctx.strategy == "loop":
        return "loop", "strategy='loop'"
    reason = why_not_native(layer, ctx.target)
    if reason is None and ctx.g.dtype != "float32":
        reason = "onnxruntime's native LSTM/GRU/RNN kernels are float32-only"
    if reason is None and masked:
        reason = ("a mask reaches it, and the Keras mask rule (the previous step's mask resets the "
                  "carried state) has no native equivalent")
    if reason is None and type(layer).__name__ == "SimpleRNN" and ctx.strategy == "auto":
        # measured (rnn2onnx bench): onnxruntime's RNN op is 1-10x slower than the loop
        # form at every batch size we tried, unlike its LSTM/GRU ops at small batches
        return "loop", "the loop form is faster than onnxruntime's RNN op"
    if reason is None:
        return "native", f"exact as ONNX {'GRU' if type(layer).__name__.startswith('JZS') else type(layer).__name__.replace('SimpleRNN', 'RNN')}"
    if ctx.strategy == "native":
        raise ExportError(f"layer {layer.name} ({type(layer).__name__}) cannot be exported natively: {reason}; "
                          "use strategy='auto' or strategy='loop'")
    return "loop", reason


@register(*RECURRENT)
def emit_recurrent(layer, ctx, x, mask):
    form, reason = choose_form(layer, ctx, mask is not None)
    ctx.forms[layer.name] = (form, reason)
    y = emit_native(layer, ctx, x) if form == "native" else emit_loop(layer, ctx, x, mask)
    return y, layer.output_mask(mask)
