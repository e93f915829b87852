"""(c) SimpleDeepRNN regressing a lagged signal.

The input is a noisy random signal x[t] (uniform in [-1, 1]); at every timestep the
target is a lagged mix of it,

    y[t] = x[t-2] - 0.5 * x[t-3]          (x before the start counts as 0),

so the model must carry the last few inputs. SimpleDeepRNN(depth=3) feeds h[t-1],
h[t-2] and h[t-3] back directly, which suits lags. Predicting 0 everywhere gives an
MSE of Var(x) * 1.25 ~ 0.39 (a bit less over the first steps); the model has to get
far below that.

SimpleDeepRNN(return_sequences=True) -> TimeDistributedDense(1), mse, RMSprop.

    python examples/lagged_deep_rnn.py   # trains, prints held-out MSE, exports ONNX
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)  # _common.py (which finds `reference` in a checkout too), also when loaded by path (tests)
from _common import export_onnx, main as example_main

from reference import RMSprop, Sequential, SimpleDeepRNN, TimeDistributedDense

TIMESTEPS = 20
LAGS = {2: 1.0, 3: -0.5}
DEFAULT_ONNX = os.path.join(HERE, "lagged_deep_rnn.onnx")


def make_data(n, rng, timesteps=TIMESTEPS):
    x = rng.uniform(-1.0, 1.0, size=(n, timesteps))
    y = np.zeros_like(x)
    for lag, coef in LAGS.items():
        y[:, lag:] += coef * x[:, :-lag]
    return x[:, :, None], y[:, :, None]


def build_model(seed=0, dtype="float32"):
    model = Sequential(dtype=dtype, seed=seed)
    model.add(SimpleDeepRNN(24, depth=3, activation="tanh", return_sequences=True, input_dim=1))
    model.add(TimeDistributedDense(1))
    model.compile(optimizer=RMSprop(lr=0.003), loss="mse")
    return model



def run(epochs=10, seed=0, verbose=1, n_train=3000, n_test=500, batch_size=32, onnx_path=DEFAULT_ONNX):
    """Train on fresh data; returns {"test_mse", "baseline_mse", "model", "history"}."""
    rng = np.random.default_rng(seed)
    X_train, y_train = make_data(n_train, rng)
    X_test, y_test = make_data(n_test, rng)
    model = build_model(seed=seed)
    history = model.fit(X_train, y_train, batch_size=batch_size, nb_epoch=epochs, verbose=verbose,
                        validation_split=0.1)
    test_mse = model.evaluate(X_test, y_test, batch_size=256, verbose=0)
    baseline_mse = float(np.mean(y_test ** 2))  # predicting 0
    print(f"held-out MSE: {test_mse:.4f} (predicting 0: {baseline_mse:.4f})")
    if onnx_path:
        export_onnx(model, onnx_path)
    return {"test_mse": test_mse, "baseline_mse": baseline_mse, "model": model, "history": history}


def main(argv=None):
    example_main(run, __doc__, DEFAULT_ONNX, argv)


if __name__ == "__main__":
    main()
