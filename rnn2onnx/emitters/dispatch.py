"""The batch-size dispatch: one layer as an ONNX `If` on the runtime batch size, whose
then-branch is a masked native form and whose else-branch is the loop form.

Some masked native forms (masked_native.py) beat the `Scan` they replace only at small
batches: onnxruntime's native GRU op is slower than the Scan from batch 8-16, masked or
not. The `If` takes the native form for non-empty input of at most `max_batch` rows and
the loop form otherwise; the threshold is the policy's (recurrent.py, DISPATCH_MAX_BATCH).

- Both branches read the layer's input and mask from the outer scope, and every weight
  and constant is an initializer of the main graph (Graph.subgraph), so no branch holds
  a copy of one.
- Empty input (batch 0 or 0 timesteps) takes the loop branch: the masked native forms'
  index arithmetic has no answer for 0 timesteps, and the loop form's `Scan` is answered
  exactly by the empty-input guard (passes.guard_empty, which guards the nodes inside
  this `If`'s branches too).
- Branch outputs declare their rank (OpenVINO 2026.4's CPU plugin needs it, as for the
  guard's branches).
"""
import copy

from onnx import helper

from ..passes import NON_EMPTY_BRANCH


def emit_dispatch(native, loop, max_batch, layer, ctx, x, mask, with_states=False, initial=None):
    """The If: `native(layer, ctx, x, mask)` for 1..max_batch rows, `loop(...)` otherwise.
    with_states (return_state): both branches also return the final states, and so does the If.
    `initial`: the given initial states, passed to both."""
    g, name = ctx.g, layer.name
    prefix = f"{name}/dispatch"
    node = g.prefixed(prefix)
    # x is (batch, time, features): empty iff batch or time is 0
    rows = node("Gather", [node("Shape", [x]), g.const(0)], axis=0)
    small = node("LessOrEqual", [rows, g.const(max_batch)])
    non_empty = node("Greater", [node("Size", [x]), g.const(0)])
    condition = node("And", [small, non_empty])
    rank = 3 if layer.return_sequences else 2
    branches = []
    for tag, emit in (("native", native), ("loop", loop)):
        branch = g.subgraph(f"{prefix}/{tag}")
        inner = copy.copy(ctx)
        inner.g = branch
        kw = {} if initial is None else {"initial": initial}
        if with_states:
            y, states = emit(layer, inner, x, mask, with_states=True, **kw)
            ys = [y] + list(states)
        else:
            ys = [emit(layer, inner, x, mask, **kw)]
        outs = []
        for i, y in enumerate(ys):
            if not any(y in n.output for n in branch.nodes) or y in outs:  # a branch output: its own tensor
                y = branch.node("Identity", [y], f"{prefix}/{tag}/out")
            outs.append(y)
        branch.outputs = [helper.make_tensor_value_info(y, g.elem, [None] * (rank if i == 0 else 2))
                          for i, y in enumerate(outs)]
        branches.append(branch.make_graph())
    branches[0].doc_string = NON_EMPTY_BRANCH  # the condition excludes empty input: no guard inside
    out = g.node("If", [condition], prefix, outputs=len(branches[0].output), then_branch=branches[0],
                 else_branch=branches[1])
    return (out[0], out[1:]) if with_states else out
