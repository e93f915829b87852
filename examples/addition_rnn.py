"""Keras 0.2.0's examples/addition_rnn.py, shrunk: an encoder-decoder that learns to add.

Input "35+61" (padded with spaces and reversed, INVERT), output "96" (padded), one-hot
characters. The model is the original's: a JZS1(128) encoder reads the question,
RepeatVector(DIGITS + 1) feeds its last state to every decoder step, a
JZS1(128, return_sequences=True) decoder, TimeDistributedDense(12) -> softmax per output
character; categorical_crossentropy, Adam (0.2.0's defaults), batch size 128; the data
generated as the original does (random numbers of 1..DIGITS digits, each question once,
a + b and b + a counted as one, shuffled, the last 10% held out).

What is shrunk so it trains in well under a minute on 2 cores:
- DIGITS 3 -> 2 (questions of 5 characters, answers of 3), TRAINING_SIZE 50000 -> 4000
  questions (3600 to train, 400 held out), which is the original's own "two digits
  inverted, 5k training examples" setting;
- the original's 199 iterations of one epoch (printing 10 validation samples after each)
  become 80 epochs, with the samples printed once at the end.

Held-out accuracy of whole answers (all 3 characters right): 0.92-0.94 over seeds 0-2
with the defaults below, per character 0.97-0.98 (the test asserts whole answers >= 0.85 on
seed 0); about 22 s of CPU. Chance per answer is about 1 in 200.

    python examples/addition_rnn.py      # trains, prints held-out accuracy and samples, exports ONNX
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # _common.py (which finds `reference` in a checkout too), also when loaded by path (tests)
from _common import export_and_check, main as example_main

from reference import JZS1, Activation, RepeatVector, Sequential, TimeDistributedDense

TRAINING_SIZE, DIGITS, INVERT = 4000, 2, True
RNN, HIDDEN_SIZE, BATCH_SIZE, LAYERS = JZS1, 128, 128, 1
MAXLEN = DIGITS + 1 + DIGITS
CHARS = "0123456789+ "
DEFAULT_ONNX = os.path.join(HERE, "addition_rnn.onnx")


class CharacterTable:
    """One-hot encoding of strings over a fixed alphabet, and back (the original's class)."""

    def __init__(self, chars, maxlen):
        self.chars = sorted(set(chars))
        self.char_indices = {c: i for i, c in enumerate(self.chars)}
        self.indices_char = {i: c for i, c in enumerate(self.chars)}
        self.maxlen = maxlen

    def encode(self, C, maxlen=None):
        maxlen = maxlen if maxlen else self.maxlen
        X = np.zeros((maxlen, len(self.chars)))
        for i, c in enumerate(C):
            X[i, self.char_indices[c]] = 1
        return X

    def decode(self, X, calc_argmax=True):
        if calc_argmax:
            X = X.argmax(axis=-1)
        return "".join(self.indices_char[int(x)] for x in X)


def make_questions(n, rng, digits=DIGITS, invert=INVERT):
    """The original's generator: n distinct questions 'a+b' (b+a not repeated) and answers."""
    maxlen = digits + 1 + digits
    questions, expected, seen = [], [], set()
    while len(questions) < n:
        def f():
            return int("".join(rng.choice(list("0123456789")) for _ in range(rng.integers(1, digits + 1))))
        a, b = f(), f()
        key = tuple(sorted((a, b)))
        if key in seen:
            continue
        seen.add(key)
        q = f"{a}+{b}"
        query = q + " " * (maxlen - len(q))
        ans = str(a + b)
        ans += " " * (digits + 1 - len(ans))
        questions.append(query[::-1] if invert else query)
        expected.append(ans)
    return questions, expected


def make_data(n, rng, digits=DIGITS):
    """(X_train, y_train, X_val, y_val): one-hot, shuffled, the last 10% held out."""
    ctable = CharacterTable(CHARS, digits + 1 + digits)
    questions, expected = make_questions(n, rng, digits)
    X = np.array([ctable.encode(q) for q in questions])
    y = np.array([ctable.encode(a, maxlen=digits + 1) for a in expected])
    indices = np.arange(len(y))
    rng.shuffle(indices)
    X, y = X[indices], y[indices]
    split_at = len(X) - len(X) // 10
    return X[:split_at], y[:split_at], X[split_at:], y[split_at:]


def build_model(seed=0, dtype="float32", digits=DIGITS, hidden_size=HIDDEN_SIZE):
    model = Sequential(dtype=dtype, seed=seed)
    # "Encode" the input sequence using an RNN, producing an output of hidden_size
    model.add(RNN(hidden_size, input_shape=(None, len(CHARS))))
    # For the decoder's input, repeat the encoded input for each time step
    model.add(RepeatVector(digits + 1))
    for _ in range(LAYERS):
        model.add(RNN(hidden_size, return_sequences=True))
    # For each step of the output sequence, decide which character should be chosen
    model.add(TimeDistributedDense(len(CHARS)))
    model.add(Activation("softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    return model


def answer_accuracy(model, X, y):
    """(whole answers right, characters right) on (X, y)."""
    predicted = model.predict_classes(X, batch_size=256, verbose=0)
    right = predicted == y.argmax(axis=-1)
    return float(np.mean(right.all(axis=1))), float(np.mean(right))


def run(epochs=80, seed=0, verbose=1, training_size=TRAINING_SIZE, onnx_path=DEFAULT_ONNX):
    """Train on fresh questions; returns {"test_answer_accuracy", "test_char_accuracy", "model",
    "history", "export"}."""
    rng = np.random.default_rng(seed)
    X_train, y_train, X_val, y_val = make_data(training_size, rng)
    model = build_model(seed=seed)
    history = model.fit(X_train, y_train, batch_size=BATCH_SIZE, nb_epoch=epochs, verbose=verbose,
                        validation_data=(X_val, y_val), show_accuracy=True)
    answers, characters = answer_accuracy(model, X_val, y_val)
    print(f"held-out answer accuracy: {answers:.4f} (characters: {characters:.4f}; "
          f"{len(X_train)} questions trained, {len(X_val)} held out)")
    ctable = CharacterTable(CHARS, MAXLEN)
    predicted = model.predict_classes(X_val[:10], verbose=0)
    for row in range(min(10, len(X_val))):
        q, correct, guess = ctable.decode(X_val[row]), ctable.decode(y_val[row]), ctable.decode(predicted[row], False)
        print(f"Q {q[::-1] if INVERT else q}  T {correct}  {'ok ' if correct == guess else 'bad'} {guess}")
    report = export_and_check(model, onnx_path, X_val[:100])
    return {"test_answer_accuracy": answers, "test_char_accuracy": characters, "model": model,
            "history": history, "export": report}


def main(argv=None):
    example_main(run, __doc__, DEFAULT_ONNX, argv)


if __name__ == "__main__":
    main()
