"""Keras releases 0.1.0–0.3.3: which config keys each wrote, what each key does, and how
a release's rules translate into the reference classes.

The HDF5 layout is the same from 0.1.0 to 0.3.3 and names no release; the config keys do.
`KEYS` is the one table (checked against each release's `get_config` at its tag of
keras-team/keras): for each key, the layers it belongs to, the releases that write it,
those that always write it, and its effect, or why it has none at inference. Every key a
file holds is in it or is a setting of a reference layer (reference/registry.py); any
other key is refused. `candidates` narrows the releases from the keys present and absent;
`rules` says what a release computes differently (mask rule, cell bugs, defaults).
docs/keras-files.md's key table is generated from `KEYS` (`key_table_markdown`).
"""
from dataclasses import dataclass

RELEASES = ("0.1.0", "0.1.1", "0.1.2", "0.1.3", "0.2.0", "0.3.0", "0.3.1", "0.3.2", "0.3.3")


def span(first, last=RELEASES[-1]):
    """The releases from `first` to `last`, both included."""
    return frozenset(RELEASES[RELEASES.index(first):RELEASES.index(last) + 1])


ALL = span(RELEASES[0])
NONE = frozenset()

RECURRENT = ("SimpleRNN", "SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")
GATED = ("SimpleDeepRNN", "GRU", "LSTM", "JZS1", "JZS2", "JZS3")  # they take inner_activation
EVERY_LAYER = "*"

#: layer kinds by the releases that have them (recurrent ones and 0.3.3's wrapper; other
#: layer kinds prove nothing)
KINDS = {
    "SimpleRNN": ALL, "GRU": ALL, "LSTM": ALL,
    "SimpleDeepRNN": span("0.1.0", "0.2.0"),                     # removed in 0.3.0
    "JZS1": span("0.1.2", "0.2.0"), "JZS2": span("0.1.2", "0.2.0"), "JZS3": span("0.1.2", "0.2.0"),
    "TimeDistributed": span("0.3.3"),
    "Masking": span("0.1.3"),                                    # masks came in 0.1.2, Masking in 0.1.3
    # reference classes for Keras 1.x/2.x files (keras_files/layers12.py): no 0.x config names them
    "ELU": NONE, "ReLU": NONE, "Softmax": NONE, "AveragePooling1D": NONE, "ZeroPadding1D": NONE,
    "Cropping1D": NONE, "UpSampling1D": NONE,
}


@dataclass(frozen=True)
class Key:
    key: str
    layers: tuple          # layer kinds it belongs to; ("*",) every layer; ("model",) the top level
    written: frozenset     # releases whose files may hold it
    always: frozenset      # releases whose files always hold it (for these layers)
    effect: str            # what it does here, or "no effect at inference: <why>"

    @property
    def has_effect(self):
        return not self.effect.startswith("no effect")


KEYS = (
    # every layer (Layer.get_config)
    Key("input_shape", (EVERY_LAYER,), span("0.2.0"), NONE,
        "the per-sample input shape (written for a layer given one)"),
    Key("batch_input_shape", (EVERY_LAYER,), span("0.3.2"), NONE,
        "the input shape; the batch size it fixes (stateful layers) does not change the numbers"),
    Key("trainable", (EVERY_LAYER,), span("0.3.0"), span("0.3.2"),
        "no effect at inference: it freezes the layer's weights in training (0.3.0/0.3.1: written when set)"),
    Key("cache_enabled", (EVERY_LAYER,), span("0.3.1"), span("0.3.1"),
        "no effect at inference: Keras's cache of a layer's symbolic output"),
    Key("custom_name", (EVERY_LAYER,), span("0.3.2"), span("0.3.2"),
        "no effect at inference: the layer's name"),
    # recurrent layers
    Key("input_dim", RECURRENT, ALL, span("0.1.0", "0.3.1"), "the input width"),
    Key("input_length", RECURRENT, span("0.2.0"), span("0.2.0", "0.3.1"),
        "the number of timesteps, when fixed (0.3.2+: left out of stateful layers' configs)"),
    Key("output_dim", RECURRENT, ALL, ALL, "the state width"),
    Key("init", RECURRENT, ALL, ALL, "no effect at inference: the initializer of the input weights"),
    Key("inner_init", RECURRENT, ALL, ALL, "no effect at inference: the initializer of the recurrent weights"),
    Key("activation", RECURRENT, ALL, ALL,
        "the output activation (default sigmoid for SimpleRNN/GRU/SimpleDeepRNN up to 0.3.2, tanh from 0.3.3)"),
    Key("inner_activation", GATED, ALL, ALL, "the gates' activation"),
    Key("forget_bias_init", ("LSTM",), span("0.1.2"), span("0.1.2"),
        "no effect at inference: the forget bias's initial value"),
    Key("depth", ("SimpleDeepRNN",), span("0.1.0", "0.2.0"), span("0.1.0", "0.2.0"), "the number of lags"),
    Key("truncate_gradient", RECURRENT, span("0.1.0", "0.2.0"), span("0.1.0", "0.2.0"),
        "no effect at inference: truncated backpropagation through time"),
    Key("return_sequences", RECURRENT, ALL, ALL, "every step's output, or the last"),
    Key("go_backwards", RECURRENT, span("0.3.0"), span("0.3.0"), "the sequence is processed in reverse"),
    Key("stateful", RECURRENT, span("0.3.0"), span("0.3.0"),
        "the states carry over between batches (a fresh model starts from zero states)"),
    Key("W_regularizer", RECURRENT, span("0.3.3"), span("0.3.3"), "no effect at inference: a training penalty"),
    Key("U_regularizer", RECURRENT, span("0.3.3"), span("0.3.3"), "no effect at inference: a training penalty"),
    Key("b_regularizer", RECURRENT, span("0.3.3"), span("0.3.3"), "no effect at inference: a training penalty"),
    Key("dropout_W", RECURRENT, span("0.3.3"), span("0.3.3"),
        "no effect at inference: dropout of the inputs, applied in training only"),
    Key("dropout_U", RECURRENT, span("0.3.3"), span("0.3.3"),
        "no effect at inference: dropout of the recurrent connections, applied in training only"),
    # Embedding
    Key("input_length", ("Embedding",), span("0.2.0"), span("0.2.0"), "the number of timesteps, when fixed"),
    Key("mask_zero", ("Embedding",), span("0.2.0"), span("0.2.0"),
        "index 0 is padding: masks the following layers (0.1.2/0.1.3 did not write it: "
        "Keras reloads such a file unmasked, and so do we)"),
    Key("dropout", ("Embedding",), span("0.3.3"), span("0.3.3"),
        "at inference the embedding rows are multiplied by 1 - dropout (read as weights scaled by it)"),
    # TimeDistributed (0.3.3)
    Key("layer", ("TimeDistributed",), span("0.3.3"), span("0.3.3"),
        "the wrapped layer: a Dense is read as TimeDistributedDense (the same numbers); others are refused"),
    # the model (Sequential.get_config / Graph.get_config, compiled)
    Key("class_mode", ("model",), span("0.1.0", "0.3.2"), NONE,
        "no effect at inference: the accuracy's class mode (written by a compiled model)"),
    Key("theano_mode", ("model",), span("0.1.0", "0.3.0"), NONE,
        "no effect at inference: Theano's compilation mode (written by a compiled model)"),
    Key("sample_weight_mode", ("model",), span("0.3.3"), NONE,
        "no effect at inference: how training weighs samples (written by a compiled model)"),
    Key("sample_weight_modes", ("model",), span("0.3.3"), NONE,
        "no effect at inference: how training weighs samples (a compiled Graph)"),
    Key("loss_weights", ("model",), span("0.3.3"), NONE,
        "no effect at inference: the outputs' weights in the training loss (a compiled Graph)"),
)


#: the layer kinds whose 0.3.x computation was checked against files 0.3.0-0.3.3 wrote
#: (tests/fixtures/keras_releases) and translated where it differs from 0.2.0's: Dropout is
#: the identity at inference, Embedding's dropout scales its rows; other kinds, a Merge and
#: a Graph written by 0.3.x are refused
CHECKED_IN_0_3 = frozenset(("SimpleRNN", "GRU", "LSTM", "Embedding", "Dense", "TimeDistributedDense",
                            "Activation", "Masking", "Dropout", "RepeatVector", "Flatten"))


def keys_for(kind):
    """{key: Key} of a layer kind (or "model")."""
    return {k.key: k for k in KEYS if kind in k.layers or (EVERY_LAYER in k.layers and kind != "model")}


#: the mask rule of each release (reference/recurrent: the recurrent driver's `mask_rule`)
MASK_RULES = {**{r: "reset" for r in span("0.1.0", "0.2.0")},
              "0.3.0": "skip_batch", "0.3.1": "skip_sample", "0.3.2": "carry", "0.3.3": "carry"}

MASK_RULE_TEXT = {
    "reset": "a masked step resets the state the next step sees",
    "skip_batch": "masked inputs are zeroed; a step is skipped (output 0, state kept) only where the whole "
                  "batch is masked; masks reach only layers with return_sequences=True",
    "skip_sample": "masked inputs are zeroed; a masked step outputs 0 and keeps the state, per sample; masks "
                   "reach only layers with return_sequences=True",
    "carry": "a masked step repeats the previous output and keeps the state",
}


def default_activation(kind, release):
    """The activation a layer of `kind` had by default in `release`."""
    if kind in ("SimpleRNN", "GRU"):
        return "tanh" if release == "0.3.3" else "sigmoid"
    return {"SimpleDeepRNN": "sigmoid"}.get(kind, "tanh")


def default_inner_activation(kind, release):
    return "sigmoid" if kind.startswith("JZS") else "hard_sigmoid"


@dataclass(frozen=True)
class Rules:
    """What a release computes for one recurrent layer, as reference constructor arguments."""
    mask_rule: str            # the rule when a mask reaches the layer
    combine: str = "add"      # SimpleRNN: "mul" is 0.3.0's f((xW+b) * (h·U))
    candidate_is_inner: bool = False  # GRU: 0.3.0's candidate used inner_activation
    saves_projection: bool = True     # JZS1/JZS2: 0.1.x left P out of the weights file


def rules(kind, release):
    return Rules(mask_rule=MASK_RULES[release],
                 combine="mul" if kind == "SimpleRNN" and release == "0.3.0" else "add",
                 candidate_is_inner=kind == "GRU" and release == "0.3.0",
                 saves_projection=not (kind in ("JZS1", "JZS2") and release in span("0.1.0", "0.1.3")))


def span_text(releases):
    """'0.3.0–0.3.3', '0.2.0', '0.1.0–0.1.3, 0.3.3' for a set of releases."""
    runs, run = [], []
    for r in RELEASES:
        if r in releases:
            run.append(r)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return ", ".join(run[0] if len(run) == 1 else f"{run[0]}–{run[-1]}" for run in runs)


def key_table_markdown():
    """The per-release key table of docs/keras-files.md."""
    lines = ["| key | layers | written by | always written by | effect |", "|---|---|---|---|---|"]
    for k in KEYS:
        layers = "every layer" if k.layers == (EVERY_LAYER,) else "the model" if k.layers == ("model",) else \
            "recurrent layers" if k.layers == RECURRENT else ", ".join(k.layers)
        lines.append(f"| `{k.key}` | {layers} | {span_text(k.written)} | {span_text(k.always) or '-'} | {k.effect} |")
    return "\n".join(lines)


def write_key_table(path):
    """Rewrite the generated key table of the docs page at `path`:
    python -m reference.keras_files.releases docs/keras-files.md"""
    page = open(path).read()
    start = page.index("-->\n", page.index("<!-- key table")) + 4
    end = page.index("<!-- end of key table -->")
    with open(path, "w") as f:
        f.write(page[:start] + key_table_markdown() + "\n" + page[end:])


if __name__ == "__main__":
    import sys

    write_key_table(sys.argv[1])
