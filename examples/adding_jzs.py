"""(b) A JZS cell learning the adding problem (a memory task).

Each input is a sequence of (value, marker) pairs: values uniform in [0, 1], exactly
two markers set to 1, one in each half of the sequence. The target is the sum of the two
marked values, so the cell has to remember the first marked value until the end.
Predicting the mean (1.0) everywhere gives an MSE of about 1/6 (0.167); the model
has to get well below that.

JZS2 -> Dense(1), mean squared error, Adam.

    python examples/adding_jzs.py       # trains, prints held-out MSE, exports ONNX
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # _common.py (which finds `reference` in a checkout too), also when loaded by path (tests)
from _common import export_onnx, main as example_main

from reference import JZS2, Adam, Dense, Sequential

TIMESTEPS = 50
BASELINE_MSE = 1.0 / 6.0  # variance of the sum of two U(0, 1) values
DEFAULT_ONNX = os.path.join(HERE, "adding_jzs.onnx")


def make_data(n, rng, timesteps=TIMESTEPS):
    X = np.zeros((n, timesteps, 2))
    X[:, :, 0] = rng.uniform(0.0, 1.0, size=(n, timesteps))
    half = timesteps // 2
    first = rng.integers(0, half, size=n)
    second = rng.integers(half, timesteps, size=n)
    rows = np.arange(n)
    X[rows, first, 1] = 1.0
    X[rows, second, 1] = 1.0
    y = X[rows, first, 0] + X[rows, second, 0]
    return X, y


def build_model(seed=0, dtype="float32"):
    model = Sequential(dtype=dtype, seed=seed)
    model.add(JZS2(32, input_dim=2))
    model.add(Dense(1))
    model.compile(optimizer=Adam(lr=0.01), loss="mse")
    return model



def run(epochs=10, seed=0, verbose=1, n_train=4000, n_test=1000, batch_size=32, timesteps=TIMESTEPS,
        onnx_path=DEFAULT_ONNX):
    """Train on fresh data; returns {"test_mse", "baseline_mse", "model", "history"}."""
    rng = np.random.default_rng(seed)
    X_train, y_train = make_data(n_train, rng, timesteps)
    X_test, y_test = make_data(n_test, rng, timesteps)
    model = build_model(seed=seed)
    history = model.fit(X_train, y_train, batch_size=batch_size, nb_epoch=epochs, verbose=verbose,
                        validation_data=(X_test[:200], y_test[:200]))
    test_mse = model.evaluate(X_test, y_test, batch_size=256, verbose=0)
    print(f"held-out MSE: {test_mse:.4f} (predicting the mean: {BASELINE_MSE:.4f})")
    if onnx_path:
        export_onnx(model, onnx_path)
    return {"test_mse": test_mse, "baseline_mse": BASELINE_MSE, "model": model, "history": history}


def main(argv=None):
    example_main(run, __doc__, DEFAULT_ONNX, argv)


if __name__ == "__main__":
    main()
