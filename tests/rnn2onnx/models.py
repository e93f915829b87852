"""Small models for the compiler tests: every recurrent layer behind every mask source."""
import numpy as np

from reference import (GRU, JZS1, JZS2, JZS3, LSTM, Dense, Embedding, Masking, Sequential, SimpleDeepRNN,
                       SimpleRNN, TimeDistributedDense)

CELLS = {
    "SimpleRNN": (SimpleRNN, {}),
    "SimpleDeepRNN1": (SimpleDeepRNN, {"depth": 1}),
    "SimpleDeepRNN3": (SimpleDeepRNN, {"depth": 3}),
    "GRU": (GRU, {}),
    "LSTM": (LSTM, {}),
    "JZS1": (JZS1, {}),
    "JZS2": (JZS2, {}),
    "JZS3": (JZS3, {}),
}
MASK_SOURCES = ("none", "embedding", "masking")


def build(cell, mask_source="none", return_sequences=False, dtype="float32", seed=0, hidden=5, **extra):
    """input -> [Embedding(mask_zero) | Masking | nothing] -> cell -> small head."""
    cls, kw = CELLS[cell]
    model = Sequential(dtype=dtype, seed=seed)
    if mask_source == "embedding":
        model.add(Embedding(9, 4, mask_zero=True))
        model.add(cls(hidden, return_sequences=return_sequences, **kw, **extra))
    elif mask_source == "masking":
        model.add(Masking(0.0, input_shape=(None, 4)))
        model.add(cls(hidden, return_sequences=return_sequences, **kw, **extra))
    else:
        model.add(cls(hidden, return_sequences=return_sequences, input_shape=(None, 4), **kw, **extra))
    if return_sequences:
        model.add(TimeDistributedDense(3, activation="softmax"))
    else:
        model.add(Dense(3, activation="tanh"))
    # weights large enough that gates leave their linear range (hard_sigmoid clips)
    rng = np.random.default_rng(seed + 100)
    model.set_weights([rng.normal(0.0, 0.6, w.shape) for w in model.get_weights()])
    return model
