"""reference/bench.py: the speed report runs, and its floor implementation computes the reference's numbers."""
import numpy as np
import pytest

from reference import LSTM, Sequential, bench


def test_bench_command_runs(capsys):
    from reference import bench

    bench.main(["--cells", "LSTM", "JZS1", "--batch", "2", "--timesteps", "3", "--input-dim", "4", "--hidden", "5",
                "--rounds", "1", "--calls", "1", "--pause", "0", "--no-torch"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith(("LSTM ", "JZS1 "))]
    table = [r for r in rows if len(r) == 3]
    assert [r[0] for r in table] == ["LSTM", "JZS1"]
    assert all(float(r[1]) > 0 and float(r[2]) > 0 for r in table)
    assert any("matrix products alone" in line for line in out.splitlines())
    assert any("fewest NumPy calls" in line for line in out.splitlines())


@pytest.mark.parametrize("dtype, tol", [("float64", 1e-12), ("float32", 2e-5)])
def test_fewest_calls_lstm_is_the_reference_lstm(dtype, tol):
    """The benchmark's floor computes what the reference computes (so its time bounds
    the reference's): forward bit for bit, every gradient to rounding."""
    rng = np.random.default_rng(3)
    n, T, d, k = 3, 5, 4, 6
    model = Sequential(dtype=dtype, seed=1)
    model.add(LSTM(k, input_dim=d, return_sequences=True))
    X = rng.normal(size=(n, T, d)).astype(dtype)
    G = rng.normal(size=(n, T, k)).astype(dtype)
    # Keras order: (W, U, b) for gates i, c, f, o; the floor's columns are i, f, o, c
    w = dict(zip([f"{p}_{g}" for g in "icfo" for p in "WUb"], model.get_weights()))
    W, U, b = (np.concatenate([w[f"{p}_{g}"] for g in "ifoc"], axis=-1) for p in "WUb")
    X *= 3  # reach hard_sigmoid's flat parts too
    Y, dX, dW, dU, db = bench.lstm_fewest_calls(X, G, W, U, b)
    assert np.array_equal(Y, model.predict(X, batch_size=n))
    layer = model.layers[0]
    layer.forward(X)
    ref_dX, ref_grads = layer.backward(G)
    ref = dict(zip(w, ref_grads))
    scale = lambda a: max(1.0, float(np.abs(a).max()))  # noqa: E731
    assert np.abs(dX - ref_dX).max() <= tol * scale(ref_dX)
    for p, ours in (("W", dW), ("U", dU), ("b", db)):
        theirs = np.concatenate([ref[f"{p}_{g}"] for g in "ifoc"], axis=-1)
        assert np.abs(ours - theirs).max() <= tol * scale(theirs), p
