"""The merge of several tensors, as Keras 0.2.0's `Merge` (and a Graph node's `inputs=[...]`)
computes it: sum, product, mean or concatenation. Masks do not pass a merge.

The sum and product are chained two at a time in branch order, and the mean divides that
sum by the count, so float rounding is the reference's (reference/containers.py)."""

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
