"""Keras 0.2.0's examples/babi_rnn.py on generated stories: two RNNs, one reading a story and one a
question, merged to answer it (a bAbI-style task).

The model is the original's: sentrnn = Embedding(vocab_size, 50, mask_zero=True) ->
GRU(100) over the story; qrnn = Embedding(vocab_size, 50) -> GRU(100) over the question
(its embedding has no mask, as in the original); Merge([sentrnn, qrnn], mode='concat')
-> Dense(vocab_size, activation='softmax'); categorical_crossentropy, Adam, batch size
32, validation_split 0.05, stories and questions left-padded with 0 (pad_sequences).

What is changed so it runs in well under a minute on 2 cores, with no download (the
sizes, batch size and EPOCHS = 20 are the original's):
- data: instead of the bAbI files, stories this script writes in the style of bAbI's
  QA1 ("single supporting fact": "Mary moved to the bathroom . John went to the
  hallway . ... Where is Mary ?" -> "bathroom"), 4 people, 6 places, 5 verbs of motion,
  2-5 sentences per story, the question about someone the story mentions; 1000 training
  and 1000 held-out stories (as the original's en/ 1000-example tasks). The original's
  default task is QA2 (two supporting facts); QA1 is its first listed alternative.

Held-out accuracy: 0.52-0.54 over seeds 0-2 (the test asserts >= 0.45 on seed 0), against
chance 1/6 for the six places; the original's docstring reports 52.1% for QA1. That is
about what answering with the last place the story names gets (0.54-0.55, printed as a
baseline): in 20 epochs on 1000 stories this model learns where the story ends, not yet
whom the question asks about (60 epochs on 2000 stories of 2 people stayed at that
baseline too), as the original's docstring says of it ("Memory networks and neural
networks that use attentional processes can efficiently search through this noise").

    python examples/babi_rnn.py          # trains, prints held-out accuracy, exports ONNX
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # _common.py (which finds `reference` in a checkout too), also when loaded by path (tests)
from _common import export_and_check, main as example_main, pad_sequences

from reference import GRU, Dense, Embedding, Merge, Sequential

RNN = GRU
EMBED_HIDDEN_SIZE, SENT_HIDDEN_SIZE, QUERY_HIDDEN_SIZE = 50, 100, 100
BATCH_SIZE = 32
DEFAULT_ONNX = os.path.join(HERE, "babi_rnn.onnx")

PEOPLE = ("Mary", "John", "Sandra", "Daniel")
PLACES = ("bathroom", "hallway", "kitchen", "office", "garden", "bedroom")
MOVES = ("moved to", "went to", "journeyed to", "travelled to", "went back to")


def make_stories(n, rng, min_sentences=2, max_sentences=5):
    """[(story tokens, question tokens, answer)] in bAbI QA1's style."""
    data = []
    for _ in range(n):
        story, where = [], {}
        for _ in range(int(rng.integers(min_sentences, max_sentences + 1))):
            person, place = str(rng.choice(PEOPLE)), str(rng.choice(PLACES))
            where[person] = place
            story += [person] + str(rng.choice(MOVES)).split() + ["the", place, "."]
        person = str(rng.choice(sorted(where)))
        data.append((story, ["Where", "is", person, "?"], where[person]))
    return data


def make_vocab():
    words = set(PEOPLE) | set(PLACES) | {w for m in MOVES for w in m.split()} | {"the", ".", "Where", "is", "?"}
    vocab = sorted(words)
    return {w: i + 1 for i, w in enumerate(vocab)}  # 0 is reserved for padding (the mask)


def vectorize_stories(data, word_idx, story_maxlen, query_maxlen):
    X = [[word_idx[w] for w in story] for story, _, _ in data]
    Xq = [[word_idx[w] for w in query] for _, query, _ in data]
    Y = np.zeros((len(data), len(word_idx) + 1))
    for i, (_, _, answer) in enumerate(data):
        Y[i, word_idx[answer]] = 1.0
    return pad_sequences(X, story_maxlen), pad_sequences(Xq, query_maxlen), Y


def build_model(vocab_size, seed=0, dtype="float32"):
    sentrnn = Sequential(dtype=dtype, seed=seed)
    sentrnn.add(Embedding(vocab_size, EMBED_HIDDEN_SIZE, mask_zero=True))
    sentrnn.add(RNN(SENT_HIDDEN_SIZE, return_sequences=False))

    qrnn = Sequential(dtype=dtype, seed=seed + 1)
    qrnn.add(Embedding(vocab_size, EMBED_HIDDEN_SIZE))
    qrnn.add(RNN(QUERY_HIDDEN_SIZE, return_sequences=False))

    model = Sequential(dtype=dtype, seed=seed)
    model.add(Merge([sentrnn, qrnn], mode="concat"))
    model.add(Dense(vocab_size, activation="softmax"))
    model.compile(optimizer="adam", loss="categorical_crossentropy", class_mode="categorical")
    return model


def last_place_accuracy(data):
    """The baseline of answering with the last place the story names."""
    return float(np.mean([story[-2] == answer for story, _, answer in data]))


def run(epochs=20, seed=0, verbose=1, n_train=1000, n_test=1000, onnx_path=DEFAULT_ONNX):
    """Train on fresh stories; returns {"test_accuracy", "test_loss", "last_place_accuracy",
    "model", "history", "export"}."""
    rng = np.random.default_rng(seed)
    train, test = make_stories(n_train, rng), make_stories(n_test, rng)
    word_idx = make_vocab()
    vocab_size = len(word_idx) + 1
    story_maxlen = max(len(s) for s, _, _ in train + test)
    query_maxlen = max(len(q) for _, q, _ in train + test)
    X, Xq, Y = vectorize_stories(train, word_idx, story_maxlen, query_maxlen)
    tX, tXq, tY = vectorize_stories(test, word_idx, story_maxlen, query_maxlen)
    if verbose:
        print(f"vocab_size = {vocab_size}, X.shape = {X.shape}, Xq.shape = {Xq.shape}, Y.shape = {Y.shape}")
        print(f"story: {' '.join(train[0][0])} | {' '.join(train[0][1])} -> {train[0][2]}")
    model = build_model(vocab_size, seed=seed)
    history = model.fit([X, Xq], Y, batch_size=BATCH_SIZE, nb_epoch=epochs, validation_split=0.05,
                        show_accuracy=True, verbose=verbose)
    loss, acc = model.evaluate([tX, tXq], tY, batch_size=BATCH_SIZE, show_accuracy=True, verbose=0)
    baseline = last_place_accuracy(test)
    print(f"held-out accuracy: {acc:.4f} (loss {loss:.4f}; answering the story's last place: {baseline:.4f})")
    # two graph inputs, input_1 (story) and input_2 (question)
    report = export_and_check(model, onnx_path, [tX[:100], tXq[:100]])
    return {"test_accuracy": acc, "test_loss": loss, "last_place_accuracy": baseline, "model": model,
            "history": history, "export": report}


def main(argv=None):
    example_main(run, __doc__, DEFAULT_ONNX, argv)


if __name__ == "__main__":
    main()
