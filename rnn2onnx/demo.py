"""`rnn2onnx demo`: the main job end to end on built-in data.

Trains a small masked model (Embedding(mask_zero) -> LSTM -> Dense(sigmoid)) with the
reference on left-padded token sequences, exports it to ONNX, validates it in
onnxruntime against the reference and prints the report.

The task: a sequence of "words" 3..V-1 sprinkled with "good" (1) and "bad" (2) tokens;
the label says whether the good ones outnumber the bad ones.
"""
import argparse
import os
import sys
import time

import numpy as np


DEFAULT_OUT = "demo.onnx"  # in the current directory


def make_data(n, vocab=20, max_len=12, seed=0):
    rng = np.random.default_rng(seed)
    X = np.zeros((n, max_len), np.int64)
    y = np.zeros((n, 1))
    for i in range(n):
        length = rng.integers(3, max_len + 1)
        words = rng.integers(3, vocab, size=length)
        sentiment = rng.integers(1, 3, size=rng.integers(1, 4))
        at = rng.choice(length, size=len(sentiment), replace=False)
        words[at] = sentiment
        X[i, max_len - length:] = words  # left padding, as Keras's pad_sequences
        y[i] = (sentiment == 1).sum() > (sentiment == 2).sum()
    return X, y


def build_model(vocab=20, dtype="float32", seed=0):
    from reference import LSTM, Dense, Embedding, Sequential

    model = Sequential(dtype=dtype, seed=seed)
    model.add(Embedding(vocab, 8, mask_zero=True))
    model.add(LSTM(16))
    model.add(Dense(1, activation="sigmoid"))
    return model


def run(out=None, epochs=15, dtype="float32", strategy="auto", seed=0, verbose=1, print_fn=print):
    import rnn2onnx
    from rnn2onnx import runtimes

    X, y = make_data(1200, seed=seed)
    X_test, y_test = make_data(300, seed=seed + 1)
    model = build_model(dtype=dtype, seed=seed)
    model.compile(optimizer="adam", loss="binary_crossentropy", class_mode="binary")
    print_fn(f"training {type(model.layers[1]).__name__} on {len(X)} left-padded sequences ({dtype})")
    model.fit(X, y, batch_size=32, nb_epoch=epochs, verbose=verbose, shuffle=True)
    accuracy = float(((model.predict(X_test) > 0.5) == y_test).mean())
    print_fn(f"reference held-out accuracy: {accuracy:.3f}")

    path = os.path.abspath(out or DEFAULT_OUT)  # where the user can find it, said below
    start = time.perf_counter()
    rnn2onnx.export(model, path, strategy=strategy)
    print_fn(f"exported and validated {path} in {time.perf_counter() - start:.2f} s")
    for name, form, reason in rnn2onnx.plan(model, strategy=strategy):
        print_fn(f"  {name:10} -> {form}" + (f"  ({reason})" if reason else ""))
    report = rnn2onnx.validate(model, path, inputs=X_test)
    print_fn(report.format_table())
    onnx_accuracy = float(((runtimes.load("onnxruntime", path)({"input": X_test})[0] > 0.5) == y_test).mean())
    print_fn(f"onnxruntime held-out accuracy: {onnx_accuracy:.3f}")
    return {"accuracy": accuracy, "onnx_accuracy": onnx_accuracy, "path": path, "report": report}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="rnn2onnx demo", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--out", default=DEFAULT_OUT,
                        help=f"where to write the ONNX file (default: {DEFAULT_OUT} in the current directory)")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--strategy", choices=("auto", "loop", "native"), default="auto")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    result = run(args.out, args.epochs, args.dtype, args.strategy, args.seed, verbose=0 if args.quiet else 1)
    return 0 if result["report"].passed else 1


if __name__ == "__main__":
    sys.exit(main())
