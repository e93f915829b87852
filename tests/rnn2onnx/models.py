"""Small models for the compiler tests: every recurrent layer behind every mask source,
made by the conformance matrix's builder (rnn2onnx/conformance/models.py)."""
import numpy as np

from rnn2onnx.conformance.models import build_model

CELLS = {  # name -> (layer class name, its extra arguments)
    "SimpleRNN": ("SimpleRNN", {}),
    "SimpleDeepRNN1": ("SimpleDeepRNN", {"depth": 1}),
    "SimpleDeepRNN3": ("SimpleDeepRNN", {"depth": 3}),
    "GRU": ("GRU", {}),
    "LSTM": ("LSTM", {}),
    "JZS1": ("JZS1", {}),
    "JZS2": ("JZS2", {}),
    "JZS3": ("JZS3", {}),
}
MASK_SOURCES = ("none", "embedding", "masking")
INPUT = {"none": "float", "embedding": "embedding", "masking": "masking"}
VOCAB, WEIGHT_SCALE = 9, 0.6  # weights large enough that gates leave their linear range (hard_sigmoid clips)


def sequential(layers, mask_source="none", dtype="float32", seed=0):
    """input (4 features, or token ids < VOCAB) -> [Embedding(mask_zero) | Masking |
    nothing] -> `layers` ([(class name, kwargs)]), every weight from N(0, WEIGHT_SCALE^2)
    (biases too, so zero inputs give nonzero pre-activations)."""
    return build_model(layers, INPUT[mask_source], dtype, seed, weights=WEIGHT_SCALE, vocab=VOCAB)


def build(cell, mask_source="none", return_sequences=False, dtype="float32", seed=0, hidden=5, **extra):
    """input -> [Embedding(mask_zero) | Masking | nothing] -> cell -> small head."""
    kind, kw = CELLS[cell]
    head = (("TimeDistributedDense", {"output_dim": 3, "activation": "softmax"}) if return_sequences
            else ("Dense", {"output_dim": 3, "activation": "tanh"}))
    cell_kw = dict(kw, output_dim=hidden, return_sequences=return_sequences, **extra)
    if mask_source == "none":
        cell_kw["input_shape"] = (None, 4)
    return sequential([(kind, cell_kw), head], mask_source, dtype, seed)


# small hand-written batches (n rows of T steps) for the tests: each mask kind and the
# edges a form can get wrong (zero-length rows, a masked last step, T = 1 and 2)
PATTERNS = {
    "none": np.ones((3, 6), bool),
    "left": np.array([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1], [0, 0, 0, 0, 0, 1]], bool),
    "right": np.array([[1, 1, 1, 1, 0, 0], [1, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 0]], bool),
    "holes": np.array([[1, 0, 1, 1, 0, 1], [0, 1, 0, 0, 1, 1], [1, 1, 0, 1, 1, 0]], bool),
    "all_masked_rows": np.array([[0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0], [1, 0, 0, 1, 0, 0]], bool),
    "masked_last_step": np.array([[1, 1, 1, 1, 1, 0], [0, 1, 1, 1, 0, 0], [1, 0, 1, 0, 1, 0]], bool),
    "length_1": np.array([[1], [0], [1]], bool),
    "length_2": np.array([[0, 1], [1, 0], [0, 0], [1, 1]], bool),
}
for _pattern in PATTERNS.values():
    _pattern.flags.writeable = False  # shared by every test that reads it
