"""Keras 0.2.0's examples/lstm_text_generation.py, shrunk: a character LSTM that writes text.

The model is the original's: two stacked LSTMs, each followed by Dropout(0.2)
(LSTM(return_sequences=True) -> Dropout -> LSTM -> Dropout -> Dense(nb_chars) ->
softmax), categorical_crossentropy, RMSprop with 0.2.0's defaults (lr 0.001), batch size
128, on windows of maxlen=20 characters cut every step=3 characters, each labelled with
the character that follows; after training it writes text with the original's sample()
at the diversities 0.2, 0.5, 1.0 and 1.2.

What is shrunk so it trains in well under a minute on 2 cores, with no download:
- data: instead of Nietzsche (about 600k characters), text this script writes
  itself from a small grammar (sentences such as "the old fox chases a bird." with 4
  nouns, 5 verbs, 4 adjectives, "and"-joined clauses: 23 distinct characters):
  30000 characters for training (9994 windows) and 6000 held-out characters from another
  draw (1994 windows);
- sizes: LSTM(512) twice becomes LSTM(64) twice;
- training: 60 iterations of one epoch become 15 epochs; the samples written are 120
  characters long instead of 400.

Held-out next-character accuracy: 0.79-0.82 over seeds 0-2 with the defaults below (the
test asserts >= 0.70 on seed 0, and 0.15 above the bigram table), against 0.23 for always
predicting the most common character (the space) and 0.47-0.49 for the best next
character given only the previous one (a bigram table counted on the training text); about
32 s of CPU. The grammar leaves the word choices open, so no model can be right on every
character.

    python examples/lstm_text_generation.py   # trains, prints held-out accuracy and samples, exports ONNX
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # _common.py (which finds `reference` in a checkout too), also when loaded by path (tests)
from _common import export_and_check, main as example_main

from reference import LSTM, Activation, Dense, Dropout, Sequential

MAXLEN, STEP, HIDDEN, BATCH_SIZE = 20, 3, 64, 128
DIVERSITIES = (0.2, 0.5, 1.0, 1.2)
DEFAULT_ONNX = os.path.join(HERE, "lstm_text_generation.onnx")

DETERMINERS = ("the", "a")
ADJECTIVES = ("old", "small", "red", "quiet")
NOUNS = ("cat", "dog", "fox", "bird")
TRANSITIVE = ("sees", "likes", "chases")
INTRANSITIVE = ("sleeps", "runs")


def sentence(rng):
    """S -> clause ("and" clause)? "."; clause -> NP (V_t NP | V_i); NP -> Det Adj? N."""
    def noun_phrase():
        words = [rng.choice(DETERMINERS)]
        if rng.random() < 0.4:
            words.append(rng.choice(ADJECTIVES))
        return words + [rng.choice(NOUNS)]

    def clause():
        if rng.random() < 0.7:
            return noun_phrase() + [rng.choice(TRANSITIVE)] + noun_phrase()
        return noun_phrase() + [rng.choice(INTRANSITIVE)]

    words = clause()
    if rng.random() < 0.25:
        words += ["and"] + clause()
    return " ".join(str(w) for w in words) + "."


def make_text(n_chars, rng):
    parts, length = [], 0
    while length < n_chars:
        parts.append(sentence(rng))
        length += len(parts[-1]) + 1
    return " ".join(parts)[:n_chars]


def make_chars():
    """The alphabet, in a fixed order (the original's set(text) order is arbitrary)."""
    words = DETERMINERS + ADJECTIVES + NOUNS + TRANSITIVE + INTRANSITIVE + ("and",)
    return sorted(set("".join(words)) | {" ", "."})


def vectorize(text, chars, maxlen=MAXLEN, step=STEP):
    """The original's semi-redundant windows: (X (n, maxlen, nb_chars), y (n, nb_chars)) one-hot."""
    index = {c: i for i, c in enumerate(chars)}
    starts = range(0, len(text) - maxlen, step)
    X = np.zeros((len(starts), maxlen, len(chars)))
    y = np.zeros((len(starts), len(chars)))
    for i, start in enumerate(starts):
        for t, char in enumerate(text[start:start + maxlen]):
            X[i, t, index[char]] = 1.0
        y[i, index[text[start + maxlen]]] = 1.0
    return X, y


def baselines(train_text, X_test, y_test, chars):
    """Held-out accuracy of the most common character, and of a bigram table (the most
    frequent next character after the previous one, counted on the training text)."""
    index = {c: i for i, c in enumerate(chars)}
    ids = np.array([index[c] for c in train_text])
    counts = np.zeros((len(chars), len(chars)))
    np.add.at(counts, (ids[:-1], ids[1:]), 1)
    target = y_test.argmax(axis=-1)
    unigram = float(np.mean(target == np.bincount(ids, minlength=len(chars)).argmax()))
    bigram = float(np.mean(target == counts.argmax(axis=1)[X_test[:, -1].argmax(axis=-1)]))
    return unigram, bigram


def build_model(nb_chars, seed=0, dtype="float32", hidden=HIDDEN):
    model = Sequential(dtype=dtype, seed=seed)
    model.add(LSTM(hidden, return_sequences=True, input_shape=(MAXLEN, nb_chars)))
    model.add(Dropout(0.2))
    model.add(LSTM(hidden, return_sequences=False))
    model.add(Dropout(0.2))
    model.add(Dense(nb_chars))
    model.add(Activation("softmax"))
    model.compile(loss="categorical_crossentropy", optimizer="rmsprop")
    return model


def sample(a, rng, temperature=1.0):
    """The original's helper: an index drawn from the probabilities `a` sharpened by `temperature`."""
    a = np.log(np.asarray(a, dtype=np.float64)) / temperature
    a = np.exp(a) / np.sum(np.exp(a))
    return int(np.argmax(rng.multinomial(1, a / a.sum(), 1)))


def generate(model, seed_text, chars, rng, diversity, length=120):
    index = {c: i for i, c in enumerate(chars)}
    sentence, generated = seed_text, ""
    for _ in range(length):
        x = np.zeros((1, MAXLEN, len(chars)))
        for t, char in enumerate(sentence):
            x[0, t, index[char]] = 1.0
        preds = model.predict(x, verbose=0)[0]
        next_char = chars[sample(preds, rng, diversity)]
        generated += next_char
        sentence = sentence[1:] + next_char
    return generated


def run(epochs=15, seed=0, verbose=1, n_train_chars=30000, n_test_chars=6000, sample_length=120,
        onnx_path=DEFAULT_ONNX):
    """Train on fresh text; returns {"test_accuracy", "unigram_accuracy", "bigram_accuracy",
    "samples", "model", "history", "export"}."""
    rng = np.random.default_rng(seed)
    chars = make_chars()
    train_text, test_text = make_text(n_train_chars, rng), make_text(n_test_chars, rng)
    X, y = vectorize(train_text, chars)
    X_test, y_test = vectorize(test_text, chars)
    if verbose:
        print(f"corpus length: {len(train_text)}, total chars: {len(chars)}, nb sequences: {len(X)}")
        print(f"text: {train_text[:100]!r}")
    model = build_model(len(chars), seed=seed)
    history = model.fit(X, y, batch_size=BATCH_SIZE, nb_epoch=epochs, verbose=verbose, show_accuracy=True,
                        validation_data=(X_test[:300], y_test[:300]))
    test_loss, test_accuracy = model.evaluate(X_test, y_test, batch_size=256, show_accuracy=True, verbose=0)
    unigram, bigram = baselines(train_text, X_test, y_test, chars)
    print(f"held-out next-character accuracy: {test_accuracy:.4f} (loss {test_loss:.4f}; most common character: "
          f"{unigram:.4f}, bigram table: {bigram:.4f})")
    samples = {}
    if sample_length:
        start = int(rng.integers(0, len(test_text) - MAXLEN))
        seed_text = test_text[start:start + MAXLEN]
        print(f'----- generating with seed: "{seed_text}"')
        for diversity in DIVERSITIES:
            samples[diversity] = generate(model, seed_text, chars, rng, diversity, sample_length)
            print(f"----- diversity {diversity}: {seed_text}{samples[diversity]}")
    report = export_and_check(model, onnx_path, X_test[:100])
    return {"test_accuracy": test_accuracy, "unigram_accuracy": unigram, "bigram_accuracy": bigram,
            "samples": samples, "model": model, "history": history, "export": report}


def main(argv=None):
    example_main(run, __doc__, DEFAULT_ONNX, argv)


if __name__ == "__main__":
    main()
