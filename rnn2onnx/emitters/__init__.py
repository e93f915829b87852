"""One emitter per layer type, registered by the layer's class name.

An emitter is `emit(layer, ctx, x, mask) -> (y, mask)`: it appends the layer's nodes to
`ctx.g`, reading tensor `x` (batch-major) and the optional float mask `(batch, time)`,
and returns its output tensor and the mask it hands on (Keras's propagation rules).
"""
EMITTERS = {}


def register(*layer_names):
    def decorate(emit):
        for name in layer_names:
            EMITTERS[name] = emit
        return emit
    return decorate


from . import advanced_activations, convolutional, layers, merge, normalization, recurrent  # noqa: E402,F401  (registers the emitters)
