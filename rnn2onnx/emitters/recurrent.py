"""The recurrent layers: choose the native, masked native or loop form, then emit it.

A native op is exact only when nothing it cannot express is in play: onnxruntime's CPU
LSTM/GRU/RNN kernels are float32-only, and some activations (for target="portable" all
but ONNX's default ones: see rnn2onnx/targets.py) are not native. Keras's mask
rule (the previous step's mask resets the carried state) has no native attribute, but it
can be lowered exactly around the op (masked_native.py): "native-segment" for
return_sequences=False; with return_sequences=True "native-reset" when a reset step can
zero the state exactly, else "native-rows". Where a masked native form wins only at
small batches, auto exports a dispatch (dispatch.py): an If on the batch size between
that form and the loop form.
"""
from functools import partial

import numpy as np

from reference.recurrent.rules import CARRY_RULES

from ..errors import ExportError
from . import register
from .dispatch import emit_dispatch
from .loop import emit_loop
from .merge import emit_merge
from .masked_native import emit_masked_last, emit_masked_rows, emit_masked_sequences, emit_packed, why_not_reset
from .native import NATIVE, emit_native, reverse_direction, why_not_masked_native, why_not_native
from .unrolled import FORM as UNROLLED, emit_unrolled, unrolled_form

RECURRENT = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")

# The masked native forms auto uses: those never slower than the Scan they replace at
# any batch size measured (`rnn2onnx bench` (e), and masked/Scan ratios at batch 1-64 with
# left padding and holes; batch-independent rules).
AUTO_MASKED = {
    ("native-segment", "LSTM"): "0.2x the Scan at batch 1, 0.7-0.9x at batch 16-64",
    ("native-reset", "LSTM"): "0.3x the Scan at batch 1, 0.7-1.0x at batch 8-64",
    # the rules of Keras 0.3.x (against their own Scans; T 50 32->64 and T 100 64->128)
    ("native-carry", "LSTM"): "0.2-0.45x the Scan at batch 1, 0.7-1.0x at batch 8-64",
    ("native-skip", "LSTM"): "0.4x the Scan at batch 1, 0.7-1.0x at batch 32",
}
# The masked native forms of the GRU op (GRU, and JZS1/JZS2 lowered onto it) beat the Scan
# at small batches only (onnxruntime's GRU op is slower than the Scan from batch 8-16,
# masked or not), so for target="onnxruntime" auto exports them as a batch-size dispatch
# (dispatch.py): an If running the native form for 1..DISPATCH_MAX_BATCH rows and the
# Scan above. Measured (masked/Scan, onnxruntime 1.32, Embedding -> GRU, T 50 32->64 and
# T 100 64->128, rows left-padded by 0-40% of T or with 20% holes; min-max of five
# same-process medians, a busy 2-core machine):
#   batch                  1          2          4          8
#   native-segment, left   0.33-0.54  0.30-0.61  0.47-0.91  0.68-1.77
#   native-segment, holes  0.10-0.14  0.08-0.13  0.10-0.21  0.03-0.24
#   native-reset, left     0.45-0.57  0.38-0.46  0.56-0.68  0.77-1.81
#   native-reset, holes    0.51-0.69  0.48-0.58  0.65-0.84  0.84-1.08
# JZS1's segment form (GRU op on [X, tanh(X.P)]): 0.48-0.79 at batch 1, 0.63-0.85 at 4,
# 0.98-1.02 at 8 (left padding). So: the native form up to batch 4.
# The carry form (Keras 0.3.2 on) against the carry rule's Scan, the same setups and rows
# left-padded or with 20% holes (min-max over both shapes and return_sequences of medians
# of three rounds; batch 1 on one thread; ratios far below the neighbours', 0.05-0.1 at
# batch 2-4, were interference on the shared machine and are left out):
#   batch                  1          2          4          8          16
#   GRU op, left           0.25-0.38  0.31-0.35  0.48-0.52  0.65-1.21  0.83-2.04
#   GRU op, holes          0.30-0.46  0.35-0.37  0.41-0.69  0.61-1.40  0.79-1.72
#   RNN op, left           0.38-0.51  0.58-1.12  0.83-1.42  1.18-2.40
#   RNN op, holes          0.44-0.65  0.58-0.96  0.78-1.69  1.13-3.91
# and the skip form (Keras 0.3.0/0.3.1), holes: GRU op 0.42-0.48 at batch 1, 0.21-0.63 at
# 4 (T 100); RNN op 0.37-0.45 at batch 1 (T 50). So: the GRU op's forms up to batch 4,
# the RNN op's (SimpleRNN) at batch 1 only.
DISPATCH_MAX_BATCH = 4
DISPATCHED = {("native-segment", "GRU"): DISPATCH_MAX_BATCH, ("native-reset", "GRU"): DISPATCH_MAX_BATCH,
              ("native-carry", "GRU"): DISPATCH_MAX_BATCH, ("native-skip", "GRU"): DISPATCH_MAX_BATCH,
              ("native-carry", "RNN"): 1, ("native-skip", "RNN"): 1}
# the masked native forms auto leaves to strategy="native" (the loop form otherwise): the
# rows form's op batch grows with the number of mask segments, so no batch-size rule makes it safe
LEFT_TO_NATIVE = {
    ("native-rows", "GRU"): ("each mask segment becomes a row: 0.9-1.3x the Scan already at batch 1-2 "
                             "with holes (T 100), 1.0-7x at batch 4"),
    ("native-rows", "LSTM"): "each mask segment becomes a row: 1.4-7x the Scan at batch 4 with holes",
}


def dispatch_form(form, max_batch=DISPATCH_MAX_BATCH):
    """The name of the dispatch form over masked native form `form` (plan, metadata)."""
    return f"dispatch({form} | loop, batch <= {max_batch})"


def choose_form(layer, ctx, masked):
    """(form, reason) for this layer under ctx.strategy and ctx.target; form is 'native',
    'native-segment', 'native-reset', 'native-rows', 'native-carry', 'native-skip', 'loop',
    'unrolled', or a dispatch between a masked native form and 'loop' (dispatch_form; with
    fixed input shapes the side of it that the fixed batch takes). `masked`: a mask reaches
    the layer and its rule reads it. `auto` never unrolls (unrolled.py says why)."""
    if ctx.strategy == UNROLLED:
        return unrolled_form(layer, ctx, masked)
    form, reason = _choose_form(layer, ctx, masked)
    if not ctx.fixed:
        return form, reason
    batch = ctx.g.fixed_batch
    for (native_form, _), max_batch in DISPATCHED.items():  # the batch is known: no If on it
        if form == dispatch_form(native_form, max_batch):
            form = native_form if batch <= max_batch else "loop"
            reason = f"{reason} (the fixed batch is {batch})"
    return form, reason


def _choose_form(layer, ctx, masked):
    if ctx.strategy == "loop":
        return "loop", "strategy='loop'"

    kind = type(layer).__name__
    reason = why_not_native(layer, ctx.target)
    if reason is None and ctx.g.dtype != "float32":
        reason = "onnxruntime's native LSTM/GRU/RNN kernels are float32-only"
    if reason is None and masked:
        reason = why_not_masked_native(ctx.target)
    later_rule = masked and layer.mask_rule != "reset"
    if reason is None and kind == "SimpleRNN" and ctx.strategy == "auto" and not later_rule:
        # measured (rnn2onnx bench): onnxruntime's RNN op is 1-10x slower than the loop
        # form at every batch size we tried, unlike its LSTM/GRU ops at small batches
        # (the later rules' masked forms at batch 1 excepted: DISPATCHED)
        return "loop", "the loop form is faster than onnxruntime's RNN op"
    if reason is None:
        op = NATIVE[kind][0]
        if not masked:
            return "native", f"exact as ONNX {op}"
        if layer.mask_rule in CARRY_RULES:
            form, how = "native-carry", f"on each row's unmasked steps (the {layer.mask_rule} mask rule)"
        elif layer.mask_rule != "reset":
            form, how = "native-skip", f"on the steps the {layer.mask_rule} mask rule computes"
        elif not layer.return_sequences:
            form, how = "native-segment", "on each row's last mask segment"
        elif why_not_reset(layer) is None:
            form, how = "native-reset", "with reset steps between mask segments"
        else:  # exact for every activation, but 1.3-3x the reset form's time where both exist
            form, how = "native-rows", "with each mask segment as a row of its own"
        if ctx.strategy == "native" or (form, op) in AUTO_MASKED:
            return form, f"exact as ONNX {op} {how}"
        if (form, op) in DISPATCHED:
            max_batch = DISPATCHED[form, op]
            return dispatch_form(form, max_batch), (f"exact as ONNX {op} {how} up to batch {max_batch}; "
                                                    "the loop form above, where the native op is slower (measured)")
        reason = (f"a mask reaches it, and its exact native form ({form}, strategy='native') is slower than "
                  f"the loop form: {LEFT_TO_NATIVE[(form, op)]} (measured)")
        return "loop", reason
    if ctx.strategy == "native":
        raise ExportError(f"layer {layer.name} ({kind}) cannot be exported natively: {reason}; "
                          "use strategy='auto' or strategy='loop'")
    return "loop", reason


EMIT = {"native": lambda layer, ctx, x, mask, **kw: emit_native(layer, ctx, x, **kw),
        "native-segment": emit_masked_last, "native-reset": emit_masked_sequences, "native-rows": emit_masked_rows,
        "native-carry": emit_packed, "native-skip": emit_packed, "loop": emit_loop, UNROLLED: emit_unrolled}
EMIT.update({dispatch_form(form, max_batch): partial(emit_dispatch, EMIT[form], emit_loop, max_batch)
             for (form, _), max_batch in DISPATCHED.items()})


def reverse_time(g, x, name):
    """x[:, ::-1]: a go_backwards layer reads its input (and mask) from the last step."""
    return g.node("Slice", [x, g.const([-1]), g.const([-2 ** 63]), g.const([1]), g.const([-1])], f"{name}/reverse")


# the forms that also return the final states (return_state); the masked ones: the carry
# rules' (return_state needs one) and their dispatches
WITH_STATES = ("native", "loop", UNROLLED, "native-carry") + tuple(
    dispatch_form(form, max_batch) for (form, _), max_batch in DISPATCHED.items() if form == "native-carry")


@register(*RECURRENT)
def emit_recurrent(layer, ctx, x, mask):
    """Every form computes the layer's forward direction on what it is given: a
    go_backwards layer gets its input and mask reversed here (its outputs then come in
    processing order, as Keras returns them), except where the native op runs in
    direction="reverse" (native.reverse_direction). A return_state layer returns
    ([output, final states...], [masks]). A layer given initial states (Keras 2.x's
    initial_state; reference/functional.py) gets `x` = [input, h(, c)], `mask` its input's
    (or a list of masks, the first its input's): every form starts from them (the native
    ops' initial_h/initial_c, the loop's initial states)."""
    initial = None
    if isinstance(x, (list, tuple)):  # [input, initial states...] (Keras 2.x's initial_state)
        x, initial = x[0], list(x[1:])
        if isinstance(mask, (list, tuple)):
            mask = mask[0]
    output_mask = layer.output_mask(mask)
    if mask is not None and not layer.rule.applies(layer):
        mask = None  # Keras 0.3.0/0.3.1 read no mask without return_sequences
    form, reason = choose_form(layer, ctx, mask is not None)
    if initial is not None:
        reason = f"{reason}; from the given initial states"
    ctx.forms[ctx.key] = (form, reason)
    if ctx.g.shapes_only:
        # a plan (rnn2onnx.plan, `inspect`) needs the form, not the nodes: emitting them
        # would compute the ONNX weights (concatenated, transposed: 576 MB for one
        # LSTM(6000)) from weights that were never allocated
        y = ctx.g.node("Identity", [x], f"{layer.name}/{form}")
        return ([y] * layer.nb_outputs if layer.return_state else y), output_mask
    if layer.go_backwards and not (form == "native" and reverse_direction(layer, ctx.target)):
        x = reverse_time(ctx.g, x, layer.name)
        mask = None if mask is None else reverse_time(ctx.g, mask, f"{layer.name}/mask")
    kw = {} if initial is None else {"initial": initial}
    if initial is not None:  # initial states need a carry rule (reference/recurrent/base.py)
        assert form in WITH_STATES, form
    if layer.return_state:
        assert form in WITH_STATES, form  # return_state needs a carry rule (reference/recurrent/base.py)
        y, states = EMIT[form](layer, ctx, x, mask, with_states=True, **kw)
        return [y] + states, output_mask
    y = EMIT[form](layer, ctx, x, mask, **kw)
    return y, output_mask


@register("Bidirectional")
def emit_bidirectional(layer, ctx, x, mask):
    """Keras's Bidirectional (reference/recurrent/bidirectional.py): each copy in the form
    emit_recurrent chooses for it (the backward copy reads the reversed input and mask), the
    backward output re-reversed along time with return_sequences, then the merge; outputs
    [merged or both halves] + forward states + backward states."""
    g, key = ctx.g, ctx.key
    reason = why_not_bidirectional_native(layer, ctx, mask)
    if reason is None:
        op = NATIVE[type(layer.forward_layer).__name__][0]
        merge = "two outputs" if layer.merge_mode is None else f"merge {layer.merge_mode}"
        ctx.forms[key] = (f"native (direction=bidirectional); {merge}",
                          f"both halves exact as one ONNX {op} with direction=\"bidirectional\"")
        if g.shapes_only:
            y = g.node("Identity", [x], f"{layer.name}/native")
            return ([y] * layer.nb_outputs if layer.nb_outputs > 1 else y), layer.output_mask(mask)
        return emit_bidirectional_native(layer, ctx, x), layer.output_mask(mask)
    halves, forms = [], []
    for part, label in zip(layer._branch_layers(), ("forward", "backward")):
        ctx.key = f"{key}/{label}"
        y, _ = emit_recurrent(part, ctx, x, mask)
        forms.append((label,) + ctx.forms.pop(ctx.key))
        halves.append((y[0], y[1:]) if layer.return_state else (y, []))
    ctx.key = key
    (y, states), (y_rev, states_rev) = halves
    if layer.return_sequences:
        y_rev = reverse_time(g, y_rev, f"{layer.name}/backward/output")
    if layer.merge_mode is None:
        outputs, merge = [y, y_rev], "two outputs"
    else:
        outputs = [emit_merge(g, [y, y_rev], layer.merge_mode, -1, f"{layer.name}/merge")]
        merge = f"merge {layer.merge_mode}"
    outputs += states + states_rev
    ctx.forms[key] = ("; ".join(f"{label}: {form}" for label, form, _ in forms) + f"; {merge}",
                      "; ".join(f"{label}: {reason}" for label, _, reason in forms if reason))
    return (outputs if len(outputs) > 1 else outputs[0]), layer.output_mask(mask)


def why_not_bidirectional_native(layer, ctx, mask):
    """None when one native op with direction="bidirectional" computes both halves exactly:
    its reverse direction's Y is the backward half already in time order (what Keras's
    re-reversal gives) and its Y_h[1] the state after time step 0 (the backward half's last
    output). Both halves must take the native form on their own (unmasked: the masked forms
    index per direction), be one cell (kind, width, activations), and the forward copy must
    run forward; and the target must allow it (tract ignores direction)."""
    forward, backward = layer._branch_layers()
    if ctx.target.bidirectional_native_refusal is not None:
        return ctx.target.bidirectional_native_refusal
    if mask is not None and forward.rule.applies(forward):
        return "a mask reaches it (the masked native forms run each half on its own)"
    if forward.go_backwards:
        return "the wrapped layer has go_backwards=True (its forward copy runs backwards)"
    configs = [{k: v for k, v in part.get_config().items() if k != "go_backwards"} for part in (forward, backward)]
    if configs[0] != configs[1]:
        return "its two halves are different cells"
    if type(forward).__name__ == "JZS1":  # its lowering transforms the input with each half's own P
        return "JZS1's native lowering reads each half's input differently"
    for part in (forward, backward):
        form, reason = choose_form(part, ctx, False)
        if form != "native":
            return reason
    return None


def emit_bidirectional_native(layer, ctx, x):
    """Both halves as one native op (why_not_bidirectional_native): W, R, B of the forward
    copy stacked over the backward copy's."""
    from .native import native_node, state_outputs

    g, name = ctx.g, layer.name
    forward, backward = layer._branch_layers()
    weights = [NATIVE[type(part).__name__][1](part) for part in (forward, backward)]
    W, R, B = (np.concatenate([w[i] for w in weights], axis=0) for i in range(3))
    node = g.prefixed(name)
    xt = node("Transpose", [x], perm=[1, 0, 2])
    states = state_outputs(forward)
    main = "Y" if layer.return_sequences else "Y_h"
    outputs = (main,) + tuple(s for s in states if s != main)
    values = dict(zip(outputs, native_node(forward, g, xt, W, R, B, outputs=outputs, direction="bidirectional")))
    k = forward.output_dim
    if layer.return_sequences:  # Y (T, 2, batch, k) -> (batch, T, 2, k)
        y = node("Transpose", [values["Y"]], perm=[2, 0, 1, 3])
        halves_axis, concat_shape = 2, [0, 0, 2 * k]
    else:  # Y_h (2, batch, k) -> (batch, 2, k)
        y = node("Transpose", [values["Y_h"]], perm=[1, 0, 2])
        halves_axis, concat_shape = 1, [0, 2 * k]
    if layer.merge_mode == "concat":  # forward's k columns, then backward's
        outputs = [node("Reshape", [y, g.const(concat_shape)])]
    else:
        halves = [node("Squeeze", [h, g.const([halves_axis])])
                  for h in node("Split", [y, g.const([1, 1])], outputs=2, axis=halves_axis)]
        outputs = halves if layer.merge_mode is None else [emit_merge(g, halves, layer.merge_mode, -1,
                                                                      f"{name}/merge")]
    if states:  # (2, batch, k) each: forward's h (c), then backward's
        parts = {s: node("Split", [values[s], g.const([1, 1])], outputs=2, axis=0) for s in states}
        outputs += [node("Squeeze", [parts[s][d], g.const([0])]) for d in (0, 1) for s in states]
    return outputs if len(outputs) > 1 else outputs[0]
