"""(a) Sentiment-style classification of left-padded token sequences.

Embedding(mask_zero=True) -> LSTM -> Dense(1) -> sigmoid, trained with
binary_crossentropy and Adam on synthetic "reviews": sentences of neutral filler
words with a few positive (ids 1-9) or negative (ids 10-19) words, plus sometimes
one word of the opposite sentiment; the label is the sentiment of the majority.
Sequences have lengths 5-40 and are left-padded with 0 (Keras's pad_sequences
default), so the LSTM starts each real sentence from a zero state.

    python examples/sentiment_lstm.py           # trains, prints held-out accuracy, exports ONNX
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # _common.py (which finds `reference` in a checkout too), also when loaded by path (tests)
from _common import export_onnx, main as example_main, pad_sequences

from reference import LSTM, Activation, Dense, Embedding, Sequential

VOCAB, MAXLEN = 60, 40
POSITIVE, NEGATIVE, NEUTRAL = range(1, 10), range(10, 20), range(20, VOCAB)
DEFAULT_ONNX = os.path.join(HERE, "sentiment_lstm.onnx")


def make_data(n, rng):
    sequences, labels = [], np.zeros(n, dtype=np.int64)
    for i in range(n):
        label = int(rng.integers(0, 2))
        length = int(rng.integers(5, MAXLEN + 1))
        words = rng.integers(NEUTRAL.start, NEUTRAL.stop, size=length)
        own = POSITIVE if label else NEGATIVE
        other = NEGATIVE if label else POSITIVE
        k = int(rng.integers(2, 4))
        k_other = int(rng.integers(0, 2))
        slots = rng.choice(length, size=k + k_other, replace=False)
        words[slots[:k]] = rng.integers(own.start, own.stop, size=k)
        words[slots[k:]] = rng.integers(other.start, other.stop, size=k_other)
        sequences.append(words)
        labels[i] = label
    return pad_sequences(sequences, MAXLEN), labels


def build_model(seed=0, dtype="float32"):
    model = Sequential(dtype=dtype, seed=seed)
    model.add(Embedding(VOCAB, 16, mask_zero=True))
    model.add(LSTM(24))
    model.add(Dense(1))
    model.add(Activation("sigmoid"))
    model.compile(optimizer="adam", loss="binary_crossentropy", class_mode="binary")
    return model



def run(epochs=6, seed=0, verbose=1, n_train=2000, n_test=500, batch_size=32, onnx_path=DEFAULT_ONNX):
    """Train on fresh synthetic data; returns {"test_accuracy", "test_loss", "model", "history"}."""
    rng = np.random.default_rng(seed)
    X_train, y_train = make_data(n_train, rng)
    X_test, y_test = make_data(n_test, rng)
    model = build_model(seed=seed)
    history = model.fit(X_train, y_train, batch_size=batch_size, nb_epoch=epochs, verbose=verbose,
                        show_accuracy=True, validation_split=0.1)
    test_loss, test_accuracy = model.evaluate(X_test, y_test, batch_size=256, show_accuracy=True, verbose=0)
    print(f"held-out accuracy: {test_accuracy:.4f} (loss {test_loss:.4f}; chance 0.5)")
    if onnx_path:
        export_onnx(model, onnx_path)
    return {"test_accuracy": test_accuracy, "test_loss": test_loss, "model": model, "history": history}


def main(argv=None):
    example_main(run, __doc__, DEFAULT_ONNX, argv)


if __name__ == "__main__":
    main()
