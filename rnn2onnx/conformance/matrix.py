"""The conformance matrix: which models, masks, dtypes, strategies, targets and opsets
are run, and the models and inputs of each case."""
import itertools
from dataclasses import dataclass, field

import numpy as np

from .. import masks
from ..targets import TARGETS as _TARGETS
from ..validation import port_inputs
from .models import EMBED, UNITS, VOCAB, build_model, randomise_biases

RECURRENT = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")
MASKS = masks.KINDS
STRATEGIES = ("auto", "loop")
TARGETS = tuple(_TARGETS)  # every registered target (rnn2onnx/targets.py)
DTYPES = ("float32", "float64")
# (activation, inner_activation) variants beyond each layer's Keras defaults
ACTIVATION_VARIANTS = (("tanh", "sigmoid"), ("relu", "sigmoid"), ("softplus", "tanh"),
                       ("linear", "hard_sigmoid"), ("softmax", "softmax"), ("sigmoid", "softmax"))
SHORT = {"SimpleRNN": "rnn", "SimpleDeepRNN": "deeprnn", "GRU": "gru", "LSTM": "lstm",
         "JZS1": "jzs1", "JZS2": "jzs2", "JZS3": "jzs3"}
BATCH, TIME = 8, 7
# the mask rules of the Keras releases (reference/recurrent/rules.py) and go_backwards: the
# cells Keras 0.3.x has; "reset" without go_backwards is the main matrix
MASK_RULES = ("reset", "skip_batch", "skip_sample", "carry")
RULE_CELLS = ("SimpleRNN", "GRU", "LSTM")
RULE_MASKS = ("right", "holes", "masking")  # left padding alone hides reset vs carry


def opset_choices():
    """The smallest, middle and largest supported opsets."""
    from ..exporter import supported_opsets

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
    container: str = None        # a CONTAINER_MODELS entry (group "container"): the model is that container
    fixed_shape: tuple = None    # (batch, time) the file is exported for (group "unrolled"), or None

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
    later = "".join(f", {key}={kwargs[key]}" for key in ("combine", "mask_rule") if key in kwargs)
    later += ", go_backwards" if kwargs.get("go_backwards") else ""
    if kind == "SimpleRNN":
        return f"{kind}({act}{later})"
    inner = kwargs.get("inner_activation") or cls.default_inner_activation
    extra = f", depth={kwargs['depth']}" if "depth" in kwargs else ""
    return f"{kind}({act}, {inner}{extra}{later})"


TARGET_IDS = {"onnxruntime": "ort"}  # shorter in case ids (kept: ids are compared across runs)


def _case_id(case, variant=""):
    names = "+".join(SHORT.get(k, k.lower()) for k, _ in case.layers if k in RECURRENT)
    parts = [names + (f"[{variant}]" if variant else ""), case.mask,
             "seq" if case.return_sequences else "last", "f32" if case.dtype == "float32" else "f64",
             case.strategy, TARGET_IDS.get(case.target, case.target), f"op{case.opset}"]
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
    ("tanh/tanh", "LSTM", "tanh", "tanh", (False, True)),  # rows
    ("keras", "GRU", "sigmoid", "hard_sigmoid", (False, True)),       # rows
    ("tanh/hard_sigmoid", "GRU", "tanh", "hard_sigmoid", (False, True)),  # reset
    ("tanh/sigmoid", "GRU", "tanh", "sigmoid", (False, True)),  # rows
    ("keras", "JZS1", "tanh", "sigmoid", (False, True)),    # rows
    ("tanh/hard_sigmoid", "JZS1", "tanh", "hard_sigmoid", (False, True)),  # reset
    ("relu/hard_sigmoid", "JZS2", "relu", "hard_sigmoid", (False, True)),  # reset
    ("hard_sigmoid/hard_sigmoid", "GRU", "hard_sigmoid", "hard_sigmoid", (False, True)),  # reset through -1e30
    ("tanh", "SimpleRNN", "tanh", None, (False, True)),           # rows (strategy="native"; auto loops)
)

# the later releases' mask rules on the native ops: "native-carry" (Keras 0.3.2 on) and
# "native-skip" (0.3.0 skip_batch, 0.3.1 skip_sample; read only with return_sequences=True),
# exact for every activation; (variant, layer, activation, inner_activation, rule,
# go_backwards, return_sequences values)
LATER_RULES_NATIVE = (
    ("carry/keras", "LSTM", "tanh", "hard_sigmoid", "carry", False, (False, True)),
    ("carry-back/tanh/sigmoid", "LSTM", "tanh", "sigmoid", "carry", True, (False, True)),
    ("carry/keras", "GRU", "sigmoid", "hard_sigmoid", "carry", False, (False, True)),
    ("carry-back/tanh/sigmoid", "GRU", "tanh", "sigmoid", "carry", True, (False, True)),
    ("carry/tanh", "SimpleRNN", "tanh", None, "carry", False, (False, True)),
    ("carry-back/sigmoid", "SimpleRNN", "sigmoid", None, "carry", True, (False, True)),
    ("skip_batch/keras", "LSTM", "tanh", "hard_sigmoid", "skip_batch", False, (True,)),
    ("skip_sample-back/sigmoid/hard_sigmoid", "GRU", "sigmoid", "hard_sigmoid", "skip_sample", True, (True,)),
    ("skip_sample/sigmoid", "SimpleRNN", "sigmoid", None, "skip_sample", False, (True,)),
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
# layers around the recurrent ones, keyed by layer class name: [(variant,
# mask, layers)], each layer alone (after a float input; a first layer gives its
# input_shape) and in a recurrent stack. Cases: both dtypes and targets, middle opset.
AROUND_LAYERS = {}

# -- layers2 block: BatchNormalization, Convolution1D, MaxPooling1D, ActivityRegularization
_SEQ = (None, EMBED)
AROUND_LAYERS.update({
    "BatchNormalization": [
        ("bn0", "none", [("BatchNormalization", {"mode": 0, "input_shape": (EMBED,)})]),
        ("bn1", "none", [("BatchNormalization", {"mode": 1, "input_shape": (EMBED,)})]),
        ("lstm-bn0-bn1", "none", [("LSTM", {"return_sequences": False}), ("BatchNormalization", {"mode": 0}),
                                  ("BatchNormalization", {"mode": 1}), ("Dense", {"output_dim": 2})]),
    ],
    "Convolution1D": [
        ("conv-valid", "none", [("Convolution1D", {"nb_filter": 3, "filter_length": 3, "input_shape": _SEQ})]),
        ("conv-same", "none", [("Convolution1D", {"nb_filter": 3, "filter_length": 4, "border_mode": "same",
                                                  "activation": "relu", "input_shape": _SEQ})]),
        ("conv-full-sub2", "none", [("Convolution1D", {"nb_filter": 3, "filter_length": 3, "border_mode": "full",
                                                       "subsample_length": 2, "activation": "tanh",
                                                       "input_shape": _SEQ})]),
        ("conv-gru", "none", [("Convolution1D", {"nb_filter": 4, "filter_length": 2, "subsample_length": 2,
                                                 "input_shape": _SEQ}), ("GRU", {"return_sequences": True})]),
    ],
    "MaxPooling1D": [
        ("pool2", "none", [("MaxPooling1D", {"input_shape": _SEQ})]),
        ("pool3-stride1", "none", [("MaxPooling1D", {"pool_length": 3, "stride": 1, "input_shape": _SEQ})]),
        ("pool3-stride2-partial", "none", [("MaxPooling1D", {"pool_length": 3, "stride": 2, "ignore_border": False,
                                                             "input_shape": _SEQ})]),
        ("conv-pool-lstm", "none", [("Convolution1D", {"nb_filter": 4, "filter_length": 3, "activation": "relu",
                                                       "input_shape": _SEQ}), ("MaxPooling1D", {"pool_length": 2}),
                                    ("LSTM", {"return_sequences": False}), ("Dense", {"output_dim": 2})]),
    ],
    "ActivityRegularization": [
        ("actreg", "none", [("ActivityRegularization", {"l1": 0.01, "l2": 0.01, "input_shape": _SEQ})]),
        ("gru-actreg-lstm", "none", [("GRU", {"return_sequences": True}), ("ActivityRegularization", {"l2": 0.1}),
                                     ("LSTM", {"return_sequences": False})]),
    ],
})
# -- end of layers2 block


# -- Keras 1.x/2.x recurrent wrapper: Bidirectional (each half under the carry rule)
_CARRY_GRU_RA = {"return_sequences": True, "mask_rule": "carry", "reset_after": True, "activation": "tanh",
                 "inner_activation": "sigmoid"}
AROUND_LAYERS.update({
    "Bidirectional": [
        ("bidir-lstm-concat", "holes", [("Bidirectional", {"layer": ("LSTM", {"return_sequences": True,
                                                                               "mask_rule": "carry"})})]),
        ("bidir-rnn-zero-mul", "right", [("Bidirectional", {"layer": ("SimpleRNN", {
            "return_sequences": True, "mask_rule": "carry", "activation": "tanh"}), "merge_mode": "mul",
            "masked_output": "zero"})]),
        ("bidir-gru-ave-lstm", "none", [("Bidirectional", {"layer": ("GRU", _CARRY_GRU_RA), "merge_mode": "ave"}),
                                        ("LSTM", {"mask_rule": "carry"})]),
        ("bidir-gru-sum-last", "left", [("Bidirectional", {"layer": ("GRU", dict(_CARRY_GRU_RA,
                                                                                  return_sequences=False)),
                                                           "merge_mode": "sum"}), ("Dense", {"output_dim": 2})]),
    ],
})


# -- layers1 block: the layers the project had first (Embedding and Masking are the mask
# kinds' inputs), core.py's shape layers, noise.py, advanced_activations.py
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


# -- layers12 block: the reference classes' Keras 1.x/2.x parameters (keras_files/layers12.py)
AROUND_LAYERS["ELU"] = [("elu", "none", [("ELU", {"alpha": 0.7, "input_shape": _SEQ})]),
                        ("lstm-elu-gru", "holes", [("LSTM", {"return_sequences": True}), ("ELU", {}), ("GRU", {})])]
AROUND_LAYERS["AveragePooling1D"] = [
    ("avgpool2", "none", [("AveragePooling1D", {"input_shape": _SEQ})]),
    ("avgpool3-same-theano-count-pad", "none", [("AveragePooling1D", {"pool_length": 3, "stride": 1,
                                                                      "border_mode": "same", "same_rule": "theano",
                                                                      "count_pad": True, "input_shape": _SEQ})]),
    ("avgpool3-same-tf-stride2", "none", [("AveragePooling1D", {"pool_length": 3, "stride": 2, "border_mode": "same",
                                                                "same_rule": "tensorflow", "input_shape": _SEQ})]),
    ("conv-avgpool-same-theano-gru", "none", [("Convolution1D", {"nb_filter": 4, "filter_length": 2, "flip": False,
                                                                 "same_rule": "tensorflow", "input_shape": _SEQ}),
                                              ("AveragePooling1D", {"pool_length": 2, "stride": 1,
                                                                    "border_mode": "same", "same_rule": "theano"}),
                                              ("GRU", {})])]
AROUND_LAYERS["Convolution1D"] += [
    ("conv-same-tf-stride2", "none", [("Convolution1D", {"nb_filter": 3, "filter_length": 4, "border_mode": "same",
                                                         "subsample_length": 2, "flip": False,
                                                         "same_rule": "tensorflow", "input_shape": _SEQ})]),
    ("conv-causal-dilated", "none", [("Convolution1D", {"nb_filter": 3, "filter_length": 3, "border_mode": "causal",
                                                        "dilation_rate": 2, "same_rule": "theano",
                                                        "input_shape": _SEQ})])]
AROUND_LAYERS["MaxPooling1D"] += [
    ("pool3-same-theano-stride2", "none", [("MaxPooling1D", {"pool_length": 3, "stride": 2, "border_mode": "same",
                                                             "same_rule": "theano", "input_shape": _SEQ})])]
AROUND_LAYERS["BatchNormalization"] += [
    ("gru-bn-axis-lstm", "holes", [("GRU", {"return_sequences": True}),
                                   ("BatchNormalization", {"axis": -1, "variance": True, "epsilon": 1e-3}),
                                   ("LSTM", {})]),
    ("bn1-variance", "none", [("BatchNormalization", {"mode": 1, "axis": -1, "variance": True, "input_shape": _SEQ})])]
AROUND_LAYERS["Dense"] += [
    ("gru-dense-last-axis-lstm", "holes", [("GRU", {"return_sequences": True}),
                                           ("Dense", {"output_dim": 3, "activation": "elu", "last_axis": True}),
                                           ("LSTM", {})])]
AROUND_LAYERS["TimeDistributedMerge"] += [
    ("gmaxpool", "none", [("TimeDistributedMerge", {"mode": "max", "global_pooling": True, "input_shape": _SEQ})]),
    # unmasked here: a sample whose steps are all masked averages to NaN, as in Keras (tested on its own)
    ("gru-gavgpool", "none", [("GRU", {"return_sequences": True}),
                                      ("TimeDistributedMerge", {"mode": "ave", "global_pooling": True,
                                                                "masked_mean": True}),
                                      ("Dense", {"output_dim": 2})])]
AROUND_LAYERS["PReLU"] += [
    ("lstm-prelu-shared", "none", [("LSTM", {"return_sequences": True}), ("PReLU", {"shared_axes": [1]}),
                                   ("GRU", {})])]
AROUND_LAYERS["Activation"] += [
    ("activation-" + name, "none", [("Activation", {"activation": name, "input_shape": _SEQ})])
    for name in ("elu", "selu", "softsign", "exponential", "swish", "mish")]
AROUND_LAYERS["Reshape"] += [
    ("gru-reshape-inferred-lstm", "none", [("GRU", {"return_sequences": True, "output_dim": 4}),
                                           ("Reshape", {"dims": (-1, 2), "infer_axis": True}), ("LSTM", {})])]
AROUND_LAYERS["ZeroPadding1D"] = [
    ("zeropad", "none", [("ZeroPadding1D", {"left_pad": 2, "right_pad": 1, "input_shape": _SEQ})]),
    ("zeropad-conv-gru", "none", [("ZeroPadding1D", {"left_pad": 1, "right_pad": 0, "input_shape": _SEQ}),
                                  ("Convolution1D", {"nb_filter": 3, "filter_length": 2}), ("GRU", {})])]
AROUND_LAYERS["Cropping1D"] = [
    ("crop", "none", [("Cropping1D", {"left_crop": 1, "right_crop": 2, "input_shape": _SEQ})]),
    ("lstm-crop-left-gru", "none", [("LSTM", {"return_sequences": True}), ("Cropping1D", {"right_crop": 0}),
                                    ("GRU", {})])]
AROUND_LAYERS["UpSampling1D"] = [
    ("upsample", "none", [("UpSampling1D", {"size": 3, "input_shape": _SEQ})]),
    ("gru-upsample-lstm", "none", [("GRU", {"return_sequences": True}), ("UpSampling1D", {}), ("LSTM", {})])]
AROUND_LAYERS["ReLU"] = [
    ("relu-clipped-leaky", "none", [("ReLU", {"max_value": 0.6, "negative_slope": 0.1, "threshold": 0.05,
                                             "input_shape": _SEQ})]),
    ("gru-relu-lstm", "holes", [("GRU", {"return_sequences": True}), ("ReLU", {"max_value": 0.5}), ("LSTM", {})])]
AROUND_LAYERS["Softmax"] = [
    ("softmax-time-axis", "none", [("Softmax", {"axis": 1, "input_shape": _SEQ})]),
    ("lstm-softmax-gru", "holes", [("LSTM", {"return_sequences": True}), ("Softmax", {"axis": -1}), ("GRU", {})])]
# -- end of layers12 block


class _Make:
    """What a container builder needs: the dtype, and a fresh seed per model it builds
    (so every run of a case has the same weights)."""

    def __init__(self, dtype, seed):
        self.dtype, self._seeds = dtype, itertools.count(seed)

    def seed(self):
        return next(self._seeds)


def _branch(*layers, m, first=None):
    """A Sequential branch: an optional Embedding(mask_zero)/Masking ("embedding",
    "masking"), then `layers` ([(class name, kwargs)]; the first reads EMBED features,
    given as its input_shape). Initial weights: make_model randomises the container's biases."""
    if first is None:
        layers = [(layers[0][0], {"input_shape": (None, EMBED), **layers[0][1]})] + list(layers[1:])
    return build_model(layers, first or "float", m.dtype, m.seed(), weights=None)


def _merge(branches, mode, concat_axis=-1):
    import reference

    return reference.Merge(branches, mode=mode, concat_axis=concat_axis)


def _merge_model(merge, *layers, m):
    import reference

    model = reference.Sequential(dtype=m.dtype, seed=m.seed())
    model.add(merge)
    for kind, kwargs in layers:
        kwargs = dict(kwargs)
        model.add(getattr(reference, kind)(kwargs.pop("output_dim", 3), **kwargs))
    return model


def _graph(m, inputs, nodes, outputs):
    """A reference Graph: inputs [(name, shape, 'float'|'int')], nodes [(name, class name,
    kwargs, add_node options)], outputs [(name, add_output options)]."""
    import reference

    g = reference.Graph(dtype=m.dtype, seed=m.seed())
    for name, shape, kind in inputs:
        g.add_input(name, shape, dtype=kind)
    for name, kind, kwargs, options in nodes:
        kwargs = dict(kwargs)
        if kind == "Embedding":
            layer = reference.Embedding(VOCAB, EMBED, mask_zero=True)
        elif kind == "Masking":
            layer = reference.Masking(0.0)
        else:
            layer = getattr(reference, kind)(kwargs.pop("output_dim", UNITS), **kwargs)
        g.add_node(layer, name, **options)
    for name, options in outputs:
        g.add_output(name, **options)
    return g


SEQ = {"return_sequences": True}
# Container rows: Merge-first Sequentials with every merge mode, concat on the
# feature and the time axis, masked (Embedding(mask_zero), Masking) and unmasked branches,
# a nested Merge. name -> (label, builder(_Make) -> model, time length per input or None)
CONTAINER_MODELS = {
    "merge-sum": ("Merge(sum)[Embedding->GRU, LSTM] -> Dense", lambda m: _merge_model(
        _merge([_branch(("GRU", {}), m=m, first="embedding"), _branch(("LSTM", {}), m=m)], "sum"),
        ("Dense", {}), m=m), None),
    "merge-mul": ("Merge(mul)[Masking->SimpleRNN, JZS1] -> Dense", lambda m: _merge_model(
        _merge([_branch(("SimpleRNN", {}), m=m, first="masking"), _branch(("JZS1", {}), m=m)], "mul"),
        ("Dense", {}), m=m), (TIME, TIME - 3)),
    "merge-ave": ("Merge(ave)[GRU, Embedding->JZS2, Dense] -> Dense", lambda m: _merge_model(
        _merge([_branch(("GRU", {}), m=m), _branch(("JZS2", {}), m=m, first="embedding"),
                _branch(("Dense", {"input_shape": (EMBED,)}), m=m)], "ave"),
        ("Dense", {"activation": "tanh"}), m=m), None),
    "merge-concat": ("Merge(concat -1)[LSTM, Embedding->SimpleDeepRNN] -> Dense(softmax)", lambda m: _merge_model(
        _merge([_branch(("LSTM", {}), m=m), _branch(("SimpleDeepRNN", {"depth": 2}), m=m, first="embedding")],
               "concat"), ("Dense", {"activation": "softmax"}), m=m), None),
    "merge-concat-seq": ("Merge(concat -1)[LSTM(seq), GRU(seq)] -> JZS3", lambda m: _merge_model(
        _merge([_branch(("LSTM", SEQ), m=m), _branch(("GRU", SEQ), m=m)], "concat"),
        ("JZS3", {}), m=m), None),
    "merge-concat-time": ("Merge(concat time)[Embedding->LSTM(seq), GRU(seq)] -> JZS3 -> Dense", lambda m: _merge_model(
        _merge([_branch(("LSTM", SEQ), m=m, first="embedding"), _branch(("GRU", SEQ), m=m)], "concat", 1),
        ("JZS3", {"output_dim": UNITS}), ("Dense", {}), m=m), (TIME, TIME - 3)),
    "merge-nested": ("Merge(concat)[Merge(sum)[LSTM, GRU], Embedding->SimpleRNN] -> Dense", lambda m: _merge_model(
        _merge([_merge([_branch(("LSTM", {}), m=m), _branch(("GRU", {}), m=m)], "sum"),
                _branch(("SimpleRNN", {}), m=m, first="embedding")], "concat"), ("Dense", {}), m=m), None),
    "merge-nested-seq": ("Merge(ave)[Merge(mul)[JZS1, Embedding->JZS3] -> Dense, LSTM] -> Dense", lambda m: _merge_model(
        _merge([_merge_model(_merge([_branch(("JZS1", {}), m=m),
                                     _branch(("JZS3", {}), m=m, first="embedding")], "mul"),
                             ("Dense", {"output_dim": UNITS, "activation": "tanh"}), m=m),
                _branch(("LSTM", {}), m=m)], "ave"), ("Dense", {}), m=m), None),
    # Graphs: two inputs (float, int), two outputs, masked single-input nodes, merged nodes
    "graph-two-io": ("Graph(x, tok -> Embedding; LSTM(seq), GRU(seq) -> concat TDD, sum SimpleRNN; "
                     "outputs seq, sum(JZS1, SimpleRNN))", lambda m: _graph(
        m, [("x", (None, EMBED), "float"), ("tok", (None,), "int")],
        [("emb", "Embedding", {}, {"input": "tok"}), ("r1", "LSTM", SEQ, {"input": "x"}),
         ("r2", "GRU", SEQ, {"input": "emb"}), ("cat", "TimeDistributedDense", {"output_dim": 3}, {"inputs": ["r1", "r2"]}),
         ("sum", "SimpleRNN", {}, {"inputs": ["r1", "r2"], "merge_mode": "sum"}), ("last", "JZS1", {}, {"input": "r2"})],
        [("seq", {"input": "cat"}), ("pair", {"inputs": ["last", "sum"], "merge_mode": "sum"})]), None),
    "graph-create-output": ("Graph(x -> Masking -> LSTM(seq), tok -> Embedding -> GRU(seq); concat time -> "
                            "JZS2 (create_output) -> Dense (create_output); output GRU seq)", lambda m: _graph(
        m, [("x", (None, EMBED), "float"), ("tok", (None,), "int")],
        [("m", "Masking", {}, {"input": "x"}), ("r1", "LSTM", SEQ, {"input": "m"}), ("emb", "Embedding", {}, {"input": "tok"}),
         ("r2", "GRU", SEQ, {"input": "emb"}),
         ("t", "JZS2", {}, {"inputs": ["r1", "r2"], "concat_axis": 1, "create_output": True}),
         ("d", "Dense", {"output_dim": 3, "activation": "softmax"}, {"input": "t", "create_output": True})],
        [("h", {"input": "r2"})]), (TIME, TIME - 3)),
}


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
    # strategies auto (the GRU op's forms: a dispatch on the batch size, run on both sides
    # of it by make_inputs) and native
    for vi, (name, kind, act, inner, rss) in enumerate(MASKED_NATIVE):
        full = itertools.product(MASKS, rss, ("auto", "native"), opsets)
        if quick:  # each variant with two mask kinds, both forms
            full = [(MASKS[(vi * 2 + j) % len(MASKS)], rss[j % len(rss)], "native", opsets[vi % len(opsets)])
                    for j in range(2)]
        for mask, rs, strategy, opset in full:
            kwargs = {"activation": act, "return_sequences": rs}
            kwargs.update({"inner_activation": inner} if inner else {})
            add([(kind, kwargs)], mask, "float32", strategy, "onnxruntime", opset, "masked-native", name)
    for vi, (name, kind, act, inner, rule, backwards, rss) in enumerate(LATER_RULES_NATIVE):
        full = itertools.product(MASKS, rss, ("auto", "native"), opsets)
        if quick:  # two mask kinds (never "none": the forms are for masks)
            full = [(MASKS[1 + (vi * 3 + j) % (len(MASKS) - 1)], rss[(vi + j) % len(rss)], "native",
                     opsets[(vi + j) % len(opsets)]) for j in range(2)]
        for mask, rs, strategy, opset in full:
            kwargs = {"activation": act, "return_sequences": rs, "mask_rule": rule, "go_backwards": backwards}
            kwargs.update({"inner_activation": inner} if inner else {})
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

    # 3c. the mask rules of Keras 0.3.x and go_backwards (auto strategy, middle opset):
    # every rule x cell x mask kind x return_sequences x go_backwards x dtype x target, and
    # Keras 0.3.0's SimpleRNN (combine="mul", with 0.3.0's rule); unmasked go_backwards
    # layers (the native op, reversed). Quick: each rule x cell once, rotating.
    rule_rows = [(rule, kind, {}) for rule in MASK_RULES for kind in RULE_CELLS]
    rule_rows.append(("skip_batch", "SimpleRNN", {"combine": "mul", "activation": "tanh"}))
    for ri, (rule, kind, extra) in enumerate(rule_rows):
        full = itertools.product(RULE_MASKS, (False, True), (False, True), DTYPES, TARGETS)
        if quick:
            full = [(RULE_MASKS[ri % 3], bool(ri % 2), bool(ri // 2 % 2) or rule == "reset", DTYPES[ri // 3 % 2],
                     TARGETS[ri // 4 % 2])]
        for mask, rs, back, dtype, target in full:
            if rule == "reset" and not back:
                continue  # the main matrix
            kwargs = dict(extra, mask_rule=rule, go_backwards=back, return_sequences=rs)
            add([(kind, kwargs)], mask, dtype, "auto", target, middle, "mask-rules",
                ",".join([rule] + ["mul"] * ("combine" in extra) + ["back"] * back))
    # (Keras's default activations, and ONNX's, which keep the native op on the portable target)
    for ki, kind in enumerate(RULE_CELLS):
        full = itertools.product(("keras", "onnx"), (False, True), DTYPES, TARGETS)
        if quick:
            full = [("onnx", bool(ki % 2), DTYPES[ki % 2], TARGETS[ki // 2 % 2])]
        for acts, rs, dtype, target in full:
            kwargs = {"go_backwards": True, "return_sequences": rs}
            if acts == "onnx":
                kwargs.update(_variant_kwargs(kind, ("tanh", "sigmoid")))
            add([(kind, kwargs)], "none", dtype, "auto", target, middle, "mask-rules", f"back,{acts}")

    # 3d. the unrolled form (strategy="unrolled", fixed shape (BATCH, TIME)): every layer,
    # mask kind, return_sequences and dtype, both targets, middle opset
    for li, kind in enumerate(RECURRENT):
        for mi, mask in enumerate(MASKS):
            chosen = itertools.product((False, True), DTYPES, TARGETS)
            if quick:  # every layer once, masks, dtypes and targets rotating
                chosen = [] if mi != li % len(MASKS) else [(bool(li % 2), DTYPES[li // 2 % 2], TARGETS[li % 2])]
            for rs, dtype, target in chosen:
                case = Case([(kind, {"return_sequences": rs})], mask, dtype, "unrolled", target, middle, "unrolled",
                            fixed_shape=(BATCH, TIME))
                case.id = _case_id(case)
                cases.append(case)

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
            if chosen[0] == ("float64", "onnxruntime") and sum(k in RECURRENT for k, _ in layers) > 1:
                # OpenVINO's known wrong results on stacked Scans inside the empty-input
                # guard (target="onnxruntime" files, README): quick holds OpenVINO to its rows
                chosen = [("float64", "portable")]
        for dtype, target in chosen:
            add([(k, dict(kw)) for k, kw in layers], mask, dtype, "auto", target, middle, "around", name)

    # 6. containers (Merge-first Sequentials, Graphs): every dtype x target x strategy
    # (middle opset); masked inputs with holes
    for ci, name in enumerate(CONTAINER_MODELS):
        chosen = itertools.product(DTYPES, TARGETS, STRATEGIES)
        if quick:  # every container once, each dtype and target in turn
            chosen = [(DTYPES[ci % 2], TARGETS[(ci // 2 + ci // 8) % 2], STRATEGIES[ci // 4 % 2])]
        for dtype, target, strategy in chosen:
            case = Case([], "holes", dtype, strategy, target, middle, "container", container=name,
                        labels=[CONTAINER_MODELS[name][0]])
            case.id = "-".join([name, "holes", "f32" if dtype == "float32" else "f64", strategy,
                                TARGET_IDS.get(target, target), f"op{middle}"])
            cases.append(case)
    return cases


# ---------------------------------------------------------------------------------------
# models and inputs


def make_model(case, seed=0):
    """The reference model of a case, with random weights (biases too)."""
    if case.container is not None:
        return randomise_biases(CONTAINER_MODELS[case.container][1](_Make(case.dtype, seed)), seed)
    return build_model(case.layers, case.input_kind, case.dtype, seed)


def make_inputs(case, model, seed=0):
    """[(T=7 batch of 8), (T=1 batch of 3)] (masked native cases: and a T=7 batch below the
    dispatch's threshold) for the case's mask kind: what model.predict takes. Left/right:
    every row padded by 0..T-1 steps; holes: random masked steps anywhere plus an
    all-masked row; masking: left, right, holes and all-masked rows mixed. A container
    gets one array per input (its own time length where the case gives one)."""
    from ..structure import model_inputs, predict_style

    rng = np.random.default_rng(seed)
    ports = model_inputs(model)
    lengths = CONTAINER_MODELS[case.container][2] if case.container is not None else None
    batches = []
    from ..validation import shortest_length

    shortest = shortest_length(model)
    sizes = [(max(TIME, shortest), BATCH), (shortest, 3 if shortest == 1 else BATCH)]
    if case.fixed_shape is not None:  # the file takes this shape only
        sizes = [tuple(reversed(case.fixed_shape))]
    if case.group == "masked-native":
        # auto's batch-size dispatch (emitters/dispatch.py) runs the native form up to a
        # threshold per op (4 rows, or 1) and the Scan above: full-length batches on both sides
        from ..emitters.recurrent import DISPATCHED

        sizes += [(max(TIME, shortest), n) for n in sorted(set(DISPATCHED.values()))]
    for T, n in sizes:
        arrays = []
        for i, port in enumerate(ports):
            t = lengths[i] if lengths and T > 1 else T
            keep = masks.keep(case.mask, n, t, rng)
            if case.group == "mask-rules" and case.mask != "none" and t > 2:
                keep[:, t // 2] = False  # a step masked in every row: Keras 0.3.0 skips it
            arrays.append(port_inputs(port, keep, rng, model.dtype))
        batches.append(predict_style(model, arrays))
    return batches

