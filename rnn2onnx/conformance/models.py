"""The reference models of the conformance matrix and of the tests, from layer specs: one
builder, so a case's model and a test's model are made the same way."""
import numpy as np

VOCAB, EMBED, UNITS = 11, 4, 5
INPUTS = ("float", "embedding", "masking", "ids")
# layers whose first positional argument is the output width (UNITS unless given)
_WIDTH_FIRST = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3", "Dense",
                "TimeDistributedDense")


def build_model(layers, inputs="float", dtype="float32", seed=0, weights="biases", vocab=VOCAB,
                features=EMBED):
    """A reference Sequential: an input, then `layers` ([(class name, kwargs)], or layers
    made by the caller).
    inputs: "embedding" (Embedding(vocab, features, mask_zero=True): token ids, 0 masked),
    "ids" (the same Embedding without mask_zero: no mask), "masking" (Masking(0.0) over
    `features` floats) or "float" (the first layer reads `features` floats: input_dim,
    unless it gives its input_shape; no mask).
    A recurrent layer, Dense or TimeDistributedDense takes `output_dim` (default UNITS);
    a Bidirectional takes `layer`: (recurrent class name, kwargs).
    weights: "biases" — the initial weights (Sequential's `seed`) with every bias (and
    BatchNormalization's statistics, PReLU's alphas) moved at random; a number s — every
    weight drawn from N(0, s^2) (seed + 100), large enough for gates to leave their
    linear range (hard_sigmoid clips) and zero inputs to give nonzero pre-activations;
    None — the initial weights as they are."""
    import reference

    if inputs not in INPUTS:
        raise ValueError(f"unknown input kind {inputs!r}; the kinds are {', '.join(INPUTS)}")
    model = reference.Sequential(dtype=dtype, seed=seed)
    if inputs in ("embedding", "ids"):
        model.add(reference.Embedding(vocab, features, mask_zero=inputs == "embedding"))
    elif inputs == "masking":
        model.add(reference.Masking(0.0, input_shape=(None, features)))
    first = inputs == "float"
    for spec in layers:
        if not isinstance(spec, (tuple, list)):  # a layer the caller made (a test's Bidirectional(...))
            model.add(spec)
            first = False
            continue
        kind, kwargs = spec
        kwargs = dict(kwargs)
        if kind == "Bidirectional":  # its `layer`: (recurrent kind, kwargs)
            inner_kind, inner = kwargs.pop("layer")
            inner = dict(inner)
            if first:
                kwargs["input_shape"] = (None, features)
            kwargs["layer"] = getattr(reference, inner_kind)(inner.pop("output_dim", UNITS), **inner)
            model.add(reference.Bidirectional(**kwargs))
        elif kind in _WIDTH_FIRST:
            kwargs.setdefault("output_dim", UNITS)
            output_dim = kwargs.pop("output_dim")
            if first and "input_shape" not in kwargs:  # one it gives is kept (and written in its config)
                kwargs["input_dim"] = features
            model.add(getattr(reference, kind)(output_dim, **kwargs))
        else:
            model.add(getattr(reference, kind)(**kwargs))
        first = False
    if weights is None:
        return model
    if weights == "biases":
        return randomise_biases(model, seed)
    if isinstance(weights, str):
        raise ValueError(f"unknown weights {weights!r}; give 'biases' or a standard deviation")
    rng = np.random.default_rng(seed + 100)
    model.set_weights([rng.normal(0.0, float(weights), w.shape) for w in model.get_weights()])
    return model


def randomise_biases(model, seed):
    """Biases start at zero (b_f at one): make them matter."""
    rng = np.random.default_rng(seed + 1)
    weights = []
    for layer in model.layers:
        for name, w in zip(layer.weight_names, layer.get_weights()):
            if name.startswith("b"):
                w = w + rng.normal(0.0, 0.5, size=w.shape)
            elif name in ("gamma", "running_mean"):  # BatchNormalization: scale and statistics too
                w = w + rng.normal(0.0, 0.5, size=w.shape) + (name == "gamma")
            elif name == "running_std":
                w = w + np.abs(rng.normal(0.0, 0.5, size=w.shape))
            elif name == "alphas":  # PReLU's start at zero, ParametricSoftplus's at a constant
                w = w + rng.normal(0.0, 0.5, size=w.shape)
            weights.append(w)
    model.set_weights(weights)
    return model
