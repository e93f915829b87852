"""(d) A GRU sequence labeller over masked (padded) sequences.

A toy part-of-speech task. Words 1-9 are always NOUN, 10-19 always VERB, 30-34
always DET, 35-39 always ADV; the ambiguous words 20-29 are NOUN right after a
determiner or a verb, and VERB otherwise. Almost half of the words are ambiguous, so
a tagger that ignores context (the best tag per word, printed as the baseline) gets
about 86% and the GRU has to use the previous word to do better.
Sentences have 4-20 words and are left-padded with 0 to length 20; padded steps
have an all-zero target row (they add nothing to the loss) and are not scored.

Embedding(mask_zero=True) -> GRU(return_sequences=True) -> TimeDistributedDense(4)
-> softmax, categorical_crossentropy, Adam.

    python examples/gru_tagger.py        # trains, prints held-out token accuracy, exports ONNX
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # _common.py (which finds `reference` in a checkout too), also when loaded by path (tests)
from _common import export_onnx, main as example_main

from reference import GRU, Activation, Adam, Embedding, Sequential, TimeDistributedDense

TAGS = ("DET", "NOUN", "VERB", "ADV")
DET, NOUN, VERB, ADV = range(4)
VOCAB, MAXLEN = 40, 20
DEFAULT_ONNX = os.path.join(HERE, "gru_tagger.onnx")


def tag_of(word, previous):
    if 1 <= word <= 9:
        return NOUN
    if 10 <= word <= 19:
        return VERB
    if 20 <= word <= 29:
        return NOUN if 30 <= previous <= 34 or 10 <= previous <= 19 else VERB
    if 30 <= word <= 34:
        return DET
    return ADV


def make_data(n, rng):
    """(X ids (n, MAXLEN) left-padded, Y one-hot (n, MAXLEN, 4) with zero rows on padding)."""
    X = np.zeros((n, MAXLEN), dtype=np.int64)
    Y = np.zeros((n, MAXLEN, len(TAGS)))
    groups = [(1, 10), (10, 20), (20, 30), (30, 35), (35, 40)]
    odds = [0.10, 0.10, 0.45, 0.25, 0.10]
    for i in range(n):
        length = int(rng.integers(4, MAXLEN + 1))
        kinds = rng.choice(len(groups), size=length, p=odds)
        words = [int(rng.integers(*groups[k])) for k in kinds]
        previous = 0
        for t, word in enumerate(words):
            pos = MAXLEN - length + t
            X[i, pos] = word
            Y[i, pos, tag_of(word, previous)] = 1.0
            previous = word
    return X, Y


def token_accuracy(model, X, Y):
    """Accuracy over real (unpadded) tokens."""
    predicted = model.predict_classes(X, batch_size=256, verbose=0)
    real = X != 0
    return float(np.mean(predicted[real] == Y.argmax(axis=-1)[real]))


def context_free_accuracy(X_train, Y_train, X_test, Y_test):
    """The baseline: tag each word with its most frequent tag in the training data."""
    counts = np.zeros((VOCAB, len(TAGS)))
    real = X_train != 0
    np.add.at(counts, (X_train[real], Y_train.argmax(axis=-1)[real]), 1)
    best = counts.argmax(axis=1)
    real = X_test != 0
    return float(np.mean(best[X_test[real]] == Y_test.argmax(axis=-1)[real]))


def build_model(seed=0, dtype="float32"):
    model = Sequential(dtype=dtype, seed=seed)
    model.add(Embedding(VOCAB, 16, mask_zero=True))
    model.add(GRU(24, return_sequences=True))
    model.add(TimeDistributedDense(len(TAGS)))
    model.add(Activation("softmax"))
    model.compile(optimizer=Adam(lr=0.005), loss="categorical_crossentropy")
    return model



def run(epochs=8, seed=0, verbose=1, n_train=2000, n_test=500, batch_size=32, onnx_path=DEFAULT_ONNX):
    """Train on fresh data; returns {"test_token_accuracy", "context_free_accuracy", "model", "history"}."""
    rng = np.random.default_rng(seed)
    X_train, Y_train = make_data(n_train, rng)
    X_test, Y_test = make_data(n_test, rng)
    model = build_model(seed=seed)
    history = model.fit(X_train, Y_train, batch_size=batch_size, nb_epoch=epochs, verbose=verbose,
                        validation_split=0.1)
    accuracy = token_accuracy(model, X_test, Y_test)
    baseline = context_free_accuracy(X_train, Y_train, X_test, Y_test)
    print(f"held-out token accuracy: {accuracy:.4f} (best tag per word, ignoring context: {baseline:.4f})")
    if onnx_path:
        export_onnx(model, onnx_path)
    return {"test_token_accuracy": accuracy, "context_free_accuracy": baseline, "model": model,
            "history": history}


def main(argv=None):
    example_main(run, __doc__, DEFAULT_ONNX, argv)


if __name__ == "__main__":
    main()
