"""The conformance matrix: which models, masks, dtypes, strategies, targets and opsets
are run, and the models and inputs of each case."""
import itertools
from dataclasses import dataclass, field

import numpy as np

from ..validate import inputs_with_mask

RECURRENT = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")
MASKS = ("none", "left", "right", "holes", "masking")
STRATEGIES = ("auto", "loop")
TARGETS = ("onnxruntime", "portable")
DTYPES = ("float32", "float64")
# (activation, inner_activation) variants beyond each layer's Keras defaults
ACTIVATION_VARIANTS = (("tanh", "sigmoid"), ("relu", "sigmoid"), ("softplus", "tanh"),
                       ("linear", "hard_sigmoid"), ("softmax", "softmax"), ("sigmoid", "softmax"))
SHORT = {"SimpleRNN": "rnn", "SimpleDeepRNN": "deeprnn", "GRU": "gru", "LSTM": "lstm",
         "JZS1": "jzs1", "JZS2": "jzs2", "JZS3": "jzs3"}
VOCAB, EMBED, UNITS, BATCH, TIME = 11, 4, 5, 8, 7


def opset_choices():
    """The smallest, middle and largest supported opsets."""
    from ..export import supported_opsets

    opsets = list(supported_opsets())
    return sorted({opsets[0], opsets[len(opsets) // 2], opsets[-1]})


# ---------------------------------------------------------------------------------------
# cases


@dataclass
class Case:
    """One model configuration and how to export it."""

    layers: list                 # [(class name, kwargs)] after the input layer
    mask: str                    # none | left | right | holes | masking
    dtype: str
    strategy: str
    target: str
    opset: int
    group: str = "matrix"        # matrix | activations | masked-native | stack | peer
    id: str = ""
    peer: dict = field(default=None, repr=False)  # peer vectors: make(dtype), feeds, expected, postprocess
    labels: list = None          # layer labels for the report (default: from `layers`)
    loop_op: str = "scan"        # the ONNX op of the loop form: scan | loop

    @property
    def return_sequences(self):
        for kind, kwargs in reversed(self.layers):
            if kind in RECURRENT:
                return bool(kwargs.get("return_sequences", False))
        return False

    @property
    def input_kind(self):
        return {"none": "float", "masking": "masking"}.get(self.mask, "embedding")


def layer_label(kind, kwargs):
    from reference import RECURRENT_LAYERS

    if kind not in RECURRENT:
        act = kwargs.get("activation")
        return f"{kind}({act})" if act else kind
    cls = RECURRENT_LAYERS[kind]
    act = kwargs.get("activation") or cls.default_activation
    if kind == "SimpleRNN":
        return f"{kind}({act})"
    inner = kwargs.get("inner_activation") or cls.default_inner_activation
    extra = f", depth={kwargs['depth']}" if "depth" in kwargs else ""
    return f"{kind}({act}, {inner}{extra})"


def _case_id(case, variant=""):
    names = "+".join(SHORT.get(k, k.lower()) for k, _ in case.layers if k in RECURRENT)
    parts = [names + (f"[{variant}]" if variant else ""), case.mask,
             "seq" if case.return_sequences else "last", "f32" if case.dtype == "float32" else "f64",
             case.strategy, "ort" if case.target == "onnxruntime" else "portable", f"op{case.opset}"]
    if case.loop_op != "scan":
        parts.insert(-1, f"{case.loop_op}op")
    return "-".join(parts)


def _variant_kwargs(kind, variant):
    act, inner = variant
    if kind == "SimpleRNN":
        return {"activation": act}
    return {"activation": act, "inner_activation": inner}


# the masked native forms (emitters/masked_native.py): (variant, layer, activation,
# inner_activation, return_sequences values); return_sequences=True gives the reset or the
# rows form as marked. target="onnxruntime" only: the portable target keeps masked layers
# in the loop form (tract refuses these forms' index arithmetic)
MASKED_NATIVE = (
    ("keras", "LSTM", "tanh", "hard_sigmoid", (False, True)),         # reset
    ("tanh/sigmoid", "LSTM", "tanh", "sigmoid", (False, True)),  # reset
    ("tanh/tanh", "LSTM", "tanh", "tanh", (True,)),         # rows
    ("keras", "GRU", "sigmoid", "hard_sigmoid", (False, True)),       # rows
    ("tanh/hard_sigmoid", "GRU", "tanh", "hard_sigmoid", (True,)),      # reset
    ("tanh/sigmoid", "GRU", "tanh", "sigmoid", (False, True)),  # rows
    ("keras", "JZS1", "tanh", "sigmoid", (False, True)),    # rows
    ("tanh/hard_sigmoid", "JZS1", "tanh", "hard_sigmoid", (True,)),     # reset
    ("relu/hard_sigmoid", "JZS2", "relu", "hard_sigmoid", (False, True)),  # reset
)

STACKS = (
    # (name, mask, layers)
    ("stack1", "left", [("LSTM", {"return_sequences": True}), ("GRU", {"return_sequences": True}),
                        ("TimeDistributedDense", {"output_dim": 3, "activation": "tanh"}),
                        ("JZS3", {"return_sequences": False}), ("Dense", {"output_dim": 2, "activation": "softmax"})]),
    ("stack2", "masking", [("JZS1", {"return_sequences": True, "output_dim": 4}), ("Dropout", {"p": 0.25}),
                           ("SimpleDeepRNN", {"return_sequences": True, "depth": 2}),
                           ("Activation", {"activation": "tanh"}), ("JZS2", {"return_sequences": False})]),
    ("stack3", "none", [("SimpleRNN", {"return_sequences": True, "activation": "tanh"}),
                        ("LSTM", {"return_sequences": True, "activation": "tanh", "inner_activation": "sigmoid"}),
                        ("GRU", {"return_sequences": True, "activation": "tanh", "inner_activation": "sigmoid"})]),
    ("stack4", "holes", [("GRU", {"return_sequences": True, "activation": "tanh", "inner_activation": "sigmoid"}),
                         ("LSTM", {"return_sequences": False})]),
    # masked native forms feeding each other: the second layer sees nonzero inputs at masked steps
    ("stack5", "holes", [("LSTM", {"return_sequences": True, "activation": "tanh", "inner_activation": "sigmoid"}),
                         ("GRU", {"return_sequences": True, "activation": "tanh", "inner_activation": "hard_sigmoid"}),
                         ("JZS2", {"return_sequences": False, "inner_activation": "hard_sigmoid"})]),
    ("stack6", "masking", [("LSTM", {"return_sequences": True}), ("LSTM", {"return_sequences": False})]),
)


# ---------------------------------------------------------------------------------------
# layers around the recurrent ones (issue 10), keyed by layer class name: [(variant,
# mask, layers)], each layer alone (after a float input; a first layer gives its
# input_shape) and in a recurrent stack. Cases: both dtypes and targets, middle opset.
AROUND_LAYERS = {}

# -- layers1 block: the layers of main before issue 10 (Embedding and Masking are the mask
# kinds' inputs), core.py's shape layers, noise.py, advanced_activations.py
_SEQ = (None, EMBED)
_FIXED = (TIME, EMBED)  # a sequence of known length: Flatten, Reshape, PReLU, ParametricSoftplus
AROUND_LAYERS.update({
    "Embedding": [("embedding", "left", []), ("embedding-lstm", "holes", [("LSTM", {})])],
    "Masking": [("masking", "masking", []), ("masking-gru", "masking", [("GRU", {"return_sequences": True})])],
    "Dense": [("dense", "none", [("Dense", {"output_dim": 3, "activation": "tanh", "input_dim": EMBED})]),
              ("gru-dense", "holes", [("GRU", {}), ("Dense", {"output_dim": 3, "activation": "softmax"})])],
    "TimeDistributedDense": [
        ("tdd", "none", [("TimeDistributedDense", {"output_dim": 3, "activation": "relu", "input_dim": EMBED})]),
        ("tdd-jzs2", "holes", [("TimeDistributedDense", {"output_dim": 3, "activation": "sigmoid"}),
                               ("JZS2", {"return_sequences": True})])],
    "Activation": [("activation", "none", [("Activation", {"activation": "softplus", "input_shape": _SEQ})]),
                   ("rnn-activation-jzs3", "right", [("SimpleRNN", {"return_sequences": True}),
                                                     ("Activation", {"activation": "softmax"}), ("JZS3", {})])],
    "Dropout": [("dropout", "none", [("Dropout", {"p": 0.3, "input_shape": _SEQ})]),
                ("jzs1-dropout-lstm", "left", [("JZS1", {"return_sequences": True}), ("Dropout", {"p": 0.5}),
                                               ("LSTM", {})])],
    "RepeatVector": [
        ("repeatvector", "none", [("Dense", {"output_dim": 3, "input_dim": EMBED}), ("RepeatVector", {"n": 4})]),
        # the encoder-decoder of Keras's examples/addition_rnn.py
        ("lstm-repeatvector-jzs1", "holes", [("LSTM", {}), ("RepeatVector", {"n": 3}),
                                             ("JZS1", {"return_sequences": True}),
                                             ("TimeDistributedDense", {"output_dim": 4, "activation": "softmax"})])],
    "Reshape": [("reshape", "none", [("Reshape", {"dims": (2, EMBED // 2, TIME), "input_shape": _FIXED})]),
                ("lstm-reshape-gru", "none", [("LSTM", {"output_dim": 6}), ("Reshape", {"dims": (3, 2)}),
                                              ("GRU", {"return_sequences": True})])],
    "Permute": [("permute", "none", [("Permute", {"dims": (2, 1), "input_shape": _SEQ})]),
                ("tdd-permute-lstm", "none", [("TimeDistributedDense", {"output_dim": 3, "input_dim": EMBED,
                                                                        "input_length": TIME}),
                                              ("Permute", {"dims": (2, 1)}), ("LSTM", {})])],
    "Flatten": [("flatten", "none", [("Flatten", {"input_shape": _FIXED})]),
                ("gru-flatten-dense", "none", [("GRU", {"return_sequences": True, "input_length": TIME}),
                                               ("Flatten", {}), ("Dense", {"output_dim": 3})])],
    "TimeDistributedMerge": [
        ("tdmerge-sum", "none", [("TimeDistributedMerge", {"mode": "sum", "input_shape": _SEQ})]),
        ("lstm-tdmerge-ave", "none", [("LSTM", {"return_sequences": True}), ("TimeDistributedMerge", {"mode": "ave"}),
                                      ("Dense", {"output_dim": 2})])],
    "MaxoutDense": [("maxout", "none", [("MaxoutDense", {"output_dim": 3, "nb_feature": 3, "input_dim": EMBED})]),
                    ("gru-maxout", "holes", [("GRU", {}), ("MaxoutDense", {"output_dim": 3})])],
    "GaussianNoise": [("gaussiannoise", "none", [("GaussianNoise", {"sigma": 0.5, "input_shape": _SEQ})]),
                      ("gaussiannoise-lstm", "holes", [("GaussianNoise", {"sigma": 0.5}), ("LSTM", {})])],
    "GaussianDropout": [("gaussiandropout", "none", [("GaussianDropout", {"p": 0.3, "input_shape": _SEQ})]),
                        ("gru-gaussiandropout-jzs2", "right", [("GRU", {"return_sequences": True}),
                                                               ("GaussianDropout", {"p": 0.3}), ("JZS2", {})])],
    "LeakyReLU": [("leakyrelu", "none", [("LeakyReLU", {"alpha": 0.2, "input_shape": _SEQ})]),
                  ("lstm-leakyrelu-gru", "holes", [("LSTM", {"return_sequences": True}), ("LeakyReLU", {}),
                                                   ("GRU", {})])],
    "PReLU": [("prelu", "none", [("PReLU", {"input_shape": _FIXED})]),
              ("gru-prelu-lstm", "none", [("GRU", {"return_sequences": True, "input_length": TIME}),
                                          ("PReLU", {}), ("LSTM", {})])],
    "ParametricSoftplus": [
        ("psoftplus", "none", [("ParametricSoftplus", {"alpha_init": 0.3, "beta_init": 2.0, "input_shape": _FIXED})]),
        ("lstm-psoftplus", "none", [("LSTM", {}), ("ParametricSoftplus", {})])],
    "ThresholdedLinear": [
        ("thresholdedlinear", "none", [("ThresholdedLinear", {"theta": 0.5, "input_shape": _SEQ})]),
        ("rnn-thresholdedlinear-jzs3", "left", [("SimpleRNN", {"return_sequences": True, "activation": "tanh"}),
                                                ("ThresholdedLinear", {"theta": 0.1}), ("JZS3", {})])],
    "ThresholdedReLU": [
        ("thresholdedrelu", "none", [("ThresholdedReLU", {"theta": 0.2, "input_shape": _SEQ})]),
        ("jzs3-thresholdedrelu-lstm", "holes", [("JZS3", {"return_sequences": True}),
                                                ("ThresholdedReLU", {"theta": 0.05}), ("LSTM", {})])],
})
# -- end of layers1 block


def build_matrix(quick=False, opsets=None):
    """The list of Cases. Full: every layer x mask x return_sequences x dtype x strategy x
    target x opset (Keras default activations), activation variants at the middle opset,
    the ONNX Loop wrapper (every layer x mask x return_sequences x dtype, portable) and
    stacked models. Quick: every layer with every mask kind once, the other
    dimensions rotated so each of their values appears, two activation variants per
    layer (every variant appears), one case per stack."""
    opsets = list(opsets or opset_choices())
    middle = opsets[len(opsets) // 2]
    cases = []
    combos = list(itertools.product((False, True), DTYPES, STRATEGIES, TARGETS, opsets))

    def add(layers, mask, dtype, strategy, target, opset, group, variant="", loop_op="scan"):
        case = Case(layers, mask, dtype, strategy, target, opset, group, loop_op=loop_op)
        case.id = _case_id(case, variant)
        cases.append(case)

    # 1. the main matrix: Keras default activations
    for li, kind in enumerate(RECURRENT):
        for mi, mask in enumerate(MASKS):
            chosen = combos if not quick else [combos[((li * len(MASKS) + mi) * 7) % len(combos)]]
            for rs, dtype, strategy, target, opset in chosen:
                add([(kind, {"return_sequences": rs})], mask, dtype, strategy, target, opset, "matrix")

    if quick:  # Keras's default hard_sigmoid inside native LSTM/GRU: what OpenVINO makes of it
        for kind in ("LSTM", "GRU"):
            for target in TARGETS:
                add([(kind, {"return_sequences": False})], "none", "float32", "auto", target, middle, "matrix")

    # 2. activation variants (middle opset; masks none and holes)
    for li, kind in enumerate(RECURRENT):
        for vi, variant in enumerate(ACTIVATION_VARIANTS):
            if kind == "SimpleRNN" and variant[0] in [v[0] for v in ACTIVATION_VARIANTS[:vi]]:
                continue  # SimpleRNN has only `activation`: skip repeated ones
            name = "/".join(variant[:1] if kind == "SimpleRNN" else variant)
            full = itertools.product(("none", "holes"), (False, True), DTYPES, STRATEGIES, TARGETS)
            if quick:  # two variants per layer, rotating so every variant appears
                c = li * len(ACTIVATION_VARIANTS) + vi
                if vi not in (li % len(ACTIVATION_VARIANTS), (li + 3) % len(ACTIVATION_VARIANTS)):
                    continue
                full = [(("none", "holes")[c % 2], bool(c // 2 % 2), DTYPES[c // 4 % 2], STRATEGIES[c // 3 % 2],
                         TARGETS[c // 5 % 2])]
            for mask, rs, dtype, strategy, target in full:
                kwargs = dict(_variant_kwargs(kind, variant), return_sequences=rs)
                add([(kind, kwargs)], mask, dtype, strategy, target, middle, "activations", name)

    # 3. masked native forms: every mask kind, float32 (the only dtype they exist in),
    # strategies auto (which may switch on the batch size) and native
    for vi, (name, kind, act, inner, rss) in enumerate(MASKED_NATIVE):
        full = itertools.product(MASKS, rss, ("auto", "native"), opsets)
        if quick:  # each variant with two mask kinds, both forms
            full = [(MASKS[(vi * 2 + j) % len(MASKS)], rss[j % len(rss)], "native", opsets[vi % len(opsets)])
                    for j in range(2)]
        for mask, rs, strategy, opset in full:
            kwargs = {"activation": act, "inner_activation": inner, "return_sequences": rs}
            add([(kind, kwargs)], mask, "float32", strategy, "onnxruntime", opset, "masked-native", name)

    # 3b. the loop form wrapped in ONNX Loop (loop_op="loop"): every layer and mask kind,
    # portable files (the consumers without Scan are other runtimes), middle opset
    for li, kind in enumerate(RECURRENT):
        for mi, mask in enumerate(MASKS):
            chosen = itertools.product((False, True), DTYPES)
            if quick:
                chosen = [] if mi != li % len(MASKS) else [(bool(li % 2), DTYPES[li // 2 % 2])]
            for rs, dtype in chosen:
                add([(kind, {"return_sequences": rs})], mask, dtype, "loop", "portable", middle, "loop-op",
                    loop_op="loop")

    # 4. stacked models
    for si, (name, mask, layers) in enumerate(STACKS):
        chosen = itertools.product(DTYPES, STRATEGIES, TARGETS, opsets)
        if quick:
            chosen = [(DTYPES[si % 2], STRATEGIES[si // 2 % 2], TARGETS[(si + 1) % 2], opsets[si % len(opsets)])]
        for dtype, strategy, target, opset in chosen:
            add([(k, dict(kw)) for k, kw in layers], mask, dtype, strategy, target, opset, "stack", name)

    # 5. layers around the recurrent ones: alone and in stacks (both dtypes and targets,
    # middle opset; quick: one of the four per entry, rotating)
    rows = [row for kind in AROUND_LAYERS for row in AROUND_LAYERS[kind]]
    for ri, (name, mask, layers) in enumerate(rows):
        chosen = itertools.product(DTYPES, TARGETS)
        if quick:
            chosen = [(DTYPES[ri % 2], TARGETS[ri // 2 % 2])]
        for dtype, target in chosen:
            add([(k, dict(kw)) for k, kw in layers], mask, dtype, "auto", target, middle, "around", name)
    return cases


# ---------------------------------------------------------------------------------------
# models and inputs


def make_model(case, seed=0):
    """The reference Sequential of a case, with random weights (biases too)."""
    import reference

    model = reference.Sequential(dtype=case.dtype, seed=seed)
    if case.input_kind == "embedding":
        model.add(reference.Embedding(VOCAB, EMBED, mask_zero=True))
    elif case.input_kind == "masking":
        model.add(reference.Masking(0.0, input_shape=(None, EMBED)))
    first = case.input_kind == "float"
    for kind, kwargs in case.layers:
        kwargs = dict(kwargs)
        if kind in RECURRENT or kind in ("Dense", "TimeDistributedDense"):
            kwargs.setdefault("output_dim", UNITS)
            output_dim = kwargs.pop("output_dim")
            if first:
                kwargs["input_dim"] = EMBED
            model.add(getattr(reference, kind)(output_dim, **kwargs))
        else:
            model.add(getattr(reference, kind)(**kwargs))
        first = False
    rng = np.random.default_rng(seed + 1)
    weights = []
    for layer in model.layers:
        for name, w in zip(layer.weight_names, layer.get_weights()):
            if name.startswith("b"):  # biases start at zero (b_f at one): make them matter
                w = w + rng.normal(0.0, 0.5, size=w.shape)
            elif name == "alphas":  # PReLU's start at zero, ParametricSoftplus's at a constant
                w = w + rng.normal(0.0, 0.5, size=w.shape)
            weights.append(w)
    model.set_weights(weights)
    return model


def make_inputs(case, model, seed=0):
    """[(T=7 batch), (T=1 batch)] for the case's mask kind. Left/right: every row
    padded by 0..T-1 steps; holes: random masked steps anywhere plus an all-masked row;
    masking: left, right, holes and all-masked rows mixed."""
    rng = np.random.default_rng(seed)
    batches = []
    for T in (TIME, 1):
        n = BATCH if T > 1 else 3
        keep = np.ones((n, T), dtype=bool)
        for i in range(n):
            pad = i % T
            kind = case.mask if case.mask != "masking" else ("left", "right", "holes", "all")[i % 4]
            if kind == "left":
                keep[i, :pad] = False
            elif kind == "right":
                keep[i, T - pad:] = False
            elif kind == "holes":
                keep[i] = rng.random(T) < 0.6
                if i == n - 1:
                    keep[i] = False  # one all-masked row
            elif kind == "all":
                keep[i] = False
        batches.append(inputs_with_mask(model, keep, rng))
    return batches
