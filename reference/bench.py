"""Speed of the reference recurrent layers: `python -m reference.bench`.

Prints, per cell (LSTM, GRU, JZS1 by default; batch 32, 100 timesteps, input 64,
hidden 128, float32, return_sequences=True so every step gets a gradient), the time
per batch of `Sequential.predict` (forward) and `Sequential.gradients` (forward +
backward, input gradient included). When PyTorch is importable (it is not a
dependency), torch.nn.LSTM / torch.nn.GRU forward+backward on the same shapes, with
the same thread count as NumPy's BLAS, is timed too and the ratio ours/torch printed.
For LSTM it also times the matrix products alone (projection, the two recurrent
products per step, the weight and input gradients): the floor of any NumPy LSTM;
`lstm_fewest_calls`, the same LSTM written for the fewest NumPy calls (the floor of one
computed op by op); and, with more than one BLAS thread and threadpoolctl installed, the
reference on two Python threads, half the batch each (whether threads can spread NumPy's
single-threaded elementwise work over the cores; the GIL decides).
For a single-thread comparison run it with OPENBLAS_NUM_THREADS=1.

Runs are interleaved in one process: in each round every contender gets a pause (so
the other library's idle BLAS/OpenMP threads stop spinning), one discarded warm-up
call and `--calls` timed calls; medians over all rounds are reported.
"""
import argparse
import os
import time

import numpy as np

from . import GRU, JZS1, LSTM, JZS2, JZS3, SimpleRNN, SimpleDeepRNN, Sequential

CELLS = {"LSTM": LSTM, "GRU": GRU, "JZS1": JZS1, "JZS2": JZS2, "JZS3": JZS3, "SimpleRNN": SimpleRNN,
         "SimpleDeepRNN": SimpleDeepRNN}
TORCH_EQUIVALENT = {"LSTM": "LSTM", "GRU": "GRU"}


def blas_threads():
    """The number of threads NumPy's BLAS uses (threadpoolctl when installed, else the
    usual environment variables, else the CPU count as OpenBLAS does)."""
    try:
        from threadpoolctl import threadpool_info
        counts = [p["num_threads"] for p in threadpool_info() if p.get("user_api") == "blas"]
        if counts:
            return max(counts)
    except ImportError:
        pass
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def blas_description():
    """Which BLAS library and kernel NumPy runs (threadpoolctl when installed), and any
    OpenBLAS override in the environment: OPENBLAS_CORETYPE forces a kernel (some
    environments set it, with OPENBLAS_L2_SIZE, for old OpenBLAS builds; a current
    OpenBLAS picks its own, usually faster, kernel)."""
    parts = []
    try:
        from threadpoolctl import threadpool_info
        for p in threadpool_info():
            if p.get("user_api") == "blas":
                parts.append(f"{p.get('internal_api')} {p.get('version')} kernel {p.get('architecture', '?')}")
    except ImportError:
        parts.append("BLAS kernel unknown (pip install threadpoolctl to see it)")
    overrides = [f"{v}={os.environ[v]}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ]
    parts.append("override: " + " ".join(overrides) if overrides else "no OpenBLAS override")
    return "; ".join(parts)


def _ours(cell, n, T, d, k, dtype, rng):
    model = Sequential(dtype=dtype, seed=0)
    model.add(CELLS[cell](k, input_dim=d, return_sequences=True))
    X = rng.normal(size=(n, T, d)).astype(dtype)
    G = rng.normal(size=(n, T, k)).astype(dtype)
    return {"forward": lambda: model.predict(X, batch_size=n),
            "forward+backward": lambda: model.gradients(X, G)}


def _torch(cell, n, T, d, k, dtype, rng, threads):
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = getattr(torch.nn, TORCH_EQUIVALENT[cell])(d, k, batch_first=True).to(getattr(torch, dtype))
    X = torch.tensor(rng.normal(size=(n, T, d)).astype(dtype), requires_grad=True)
    G = torch.tensor(rng.normal(size=(n, T, k)).astype(dtype))

    def forward():
        with torch.no_grad():
            return net(X)[0]

    def forward_backward():
        net.zero_grad(set_to_none=True)
        X.grad = None
        net(X)[0].backward(G)

    return {"forward": forward, "forward+backward": forward_backward}


def _lstm_matmuls(n, T, d, k, dtype, rng):
    """Only the matrix products an LSTM forward+backward cannot avoid (projection, 2 per
    step, and the 3 weight/input gradient products): the floor of any NumPy LSTM."""
    X = rng.normal(size=(T * n, d)).astype(dtype)
    W = rng.normal(size=(d, 4 * k)).astype(dtype)
    U = np.asfortranarray(rng.normal(size=(k, 4 * k)).astype(dtype))
    H = rng.normal(size=(T, n, k)).astype(dtype)
    DA = rng.normal(size=(T, n, 4 * k)).astype(dtype)

    def run():
        X @ W
        for t in range(T):
            H[t] @ U
        for t in range(T):
            DA[t] @ U.T
        H.reshape(-1, k).T @ DA.reshape(-1, 4 * k)
        X.T @ DA.reshape(-1, 4 * k)
        DA.reshape(-1, 4 * k) @ W.T

    return run


def lstm_fewest_calls(X, G, W, U, b):
    """An LSTM forward+backward in NumPy written for the fewest ufunc calls, into buffers
    allocated once per call: Keras's default gates (hard_sigmoid) and activation (tanh),
    no mask, every step's output given gradient G. W (d, 4k), U (k, 4k) and b (4k,) hold
    the gates in the order i, f, o, c. Returns (Y, dX, dW, dU, db).

    It exists to bound the reference: it does the same matrix products as the reference
    and the elementwise work a step needs, one NumPy call per operation and nothing else
    (no op set, no per-step caches, no mask or truncation logic); the reference's forward
    equals its forward bit for bit."""
    n, T, d = X.shape
    k, dt = U.shape[0], X.dtype
    X2 = np.ascontiguousarray(X.transpose(1, 0, 2)).reshape(T * n, d)
    A = X2 @ W
    A += b
    A = A.reshape(T, n, 4 * k)
    IFO, CC, FC = np.empty((T, n, 3 * k), dt), np.empty((T, n, k), dt), np.empty((T, n, k), dt)
    C, H = np.zeros((T + 1, n, k), dt), np.zeros((T + 1, n, k), dt)
    tmp, rec = np.empty((n, k), dt), np.empty((n, 4 * k), dt)
    for t in range(T):
        np.matmul(H[t], U, out=rec)
        a, ifo, cc, c = A[t], IFO[t], CC[t], C[t + 1]
        a += rec
        np.multiply(a[:, :3 * k], 0.2, out=ifo)
        ifo += 0.5
        ifo.clip(0.0, 1.0, out=ifo)
        np.tanh(a[:, 3 * k:], out=cc)
        np.multiply(ifo[:, k:2 * k], C[t], out=c)
        np.multiply(ifo[:, :k], cc, out=tmp)
        c += tmp
        np.tanh(c, out=FC[t])
        np.multiply(ifo[:, 2 * k:], FC[t], out=H[t + 1])
    dH = np.ascontiguousarray(G.transpose(1, 0, 2))
    UF, DA = np.asfortranarray(U), np.empty((T, n, 4 * k), dt)
    dh, dc, dc_next, d_tanh = np.zeros((n, k), dt), np.empty((n, k), dt), np.zeros((n, k), dt), np.empty((n, k), dt)
    for t in range(T - 1, -1, -1):
        ifo, fc, cc, da = IFO[t], FC[t], CC[t], DA[t]
        dh += dH[t]
        np.multiply(fc, fc, out=d_tanh)
        np.subtract(1.0, d_tanh, out=d_tanh)
        d_tanh *= ifo[:, 2 * k:]
        np.multiply(dh, d_tanh, out=dc)
        dc += dc_next
        np.multiply(dc, cc, out=da[:, :k])
        np.multiply(dc, C[t], out=da[:, k:2 * k])
        np.multiply(dh, fc, out=da[:, 2 * k:3 * k])
        np.multiply(dc, ifo[:, :k], out=da[:, 3 * k:])
        gates = da[:, :3 * k]
        np.multiply(gates, np.less_equal(np.abs(A[t][:, :3 * k]), 2.5), out=gates)
        gates *= 0.2
        np.multiply(cc, cc, out=d_tanh)
        np.subtract(1.0, d_tanh, out=d_tanh)
        da[:, 3 * k:] *= d_tanh
        np.multiply(dc, ifo[:, k:2 * k], out=dc_next)
        np.matmul(da, UF.T, out=dh)
    DA2 = DA.reshape(T * n, 4 * k)
    dU = H[:-1].reshape(T * n, k).T @ DA2
    dX = (DA2 @ W.T).reshape(T, n, d).transpose(1, 0, 2)
    return H[1:].transpose(1, 0, 2), dX, X2.T @ DA2, dU, DA2.sum(axis=0)


def _lstm_fewest_calls(n, T, d, k, dtype, rng):
    W = (0.1 * rng.normal(size=(d, 4 * k))).astype(dtype)
    U = (0.1 * rng.normal(size=(k, 4 * k))).astype(dtype)
    b = np.zeros(4 * k, dtype)
    X = rng.normal(size=(n, T, d)).astype(dtype)
    G = rng.normal(size=(n, T, k)).astype(dtype)
    return lambda: lstm_fewest_calls(X, G, W, U, b)


def _lstm_two_threads(n, T, d, k, dtype, rng):
    """The reference LSTM's forward+backward on two Python threads, each on half the
    batch, one BLAS thread each: whether threads could run the elementwise work (NumPy
    runs each ufunc on one core) in parallel. None without threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    from concurrent.futures import ThreadPoolExecutor

    halves = [_ours("LSTM", n // 2, T, d, k, dtype, rng)["forward+backward"] for _ in range(2)]
    pool = ThreadPoolExecutor(2)

    def run():
        with threadpool_limits(1, user_api="blas"):
            for future in [pool.submit(half) for half in halves]:
                future.result()

    return run


def measure(contenders, rounds, calls, pause, clock=time.perf_counter):
    """{name: fn} -> {name: median seconds}, interleaved."""
    times = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            time.sleep(pause)
            fn()  # warm-up, discarded
            for _ in range(calls):
                start = clock()
                fn()
                times[name].append(clock() - start)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m reference.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", default=["LSTM", "GRU", "JZS1"], choices=sorted(CELLS))
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--timesteps", type=int, default=100)
    parser.add_argument("--input-dim", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=3, help="timed calls per contender per round")
    parser.add_argument("--pause", type=float, default=0.2, help="seconds of idle before each contender's turn")
    parser.add_argument("--no-torch", action="store_true", help="do not time PyTorch even if it is installed")
    parser.add_argument("--clock", choices=["wall", "thread"], default="wall",
                        help="thread: CPU time of the calling thread, which other processes on a busy "
                             "machine do not inflate; only with one BLAS thread (OPENBLAS_NUM_THREADS=1)")
    args = parser.parse_args(argv)

    n, T, d, k = args.batch, args.timesteps, args.input_dim, args.hidden
    threads = blas_threads()
    if args.clock == "thread" and threads != 1:
        parser.error(f"--clock thread needs one BLAS thread (OPENBLAS_NUM_THREADS=1); NumPy uses {threads}")
    clock = time.thread_time if args.clock == "thread" else time.perf_counter
    rng = np.random.default_rng(0)
    print(f"batch {n}, {T} timesteps, input {d}, hidden {k}, {args.dtype}, {threads} BLAS thread(s); "
          f"median of {args.rounds} interleaved rounds x {args.calls} calls, ms per batch"
          + (" (CPU time of the calling thread)" if args.clock == "thread" else ""))
    print(f"NumPy's BLAS: {blas_description()}")
    header = f"{'cell':<14}{'forward':>10}{'fwd+bwd':>10}"
    torch_note = None
    rows = []
    for cell in args.cells:
        contenders = {("ours", phase): fn for phase, fn in _ours(cell, n, T, d, k, args.dtype, rng).items()}
        theirs = None
        if cell == "LSTM":
            contenders["matmuls", "forward+backward"] = _lstm_matmuls(n, T, d, k, args.dtype, rng)
            contenders["fewest calls", "forward+backward"] = _lstm_fewest_calls(n, T, d, k, args.dtype, rng)
            if threads > 1 and n > 1:
                two_threads = _lstm_two_threads(n, T, d, k, args.dtype, rng)
                if two_threads is not None:
                    contenders["two threads", "forward+backward"] = two_threads
        if not args.no_torch and cell in TORCH_EQUIVALENT:
            theirs = _torch(cell, n, T, d, k, args.dtype, rng, threads)
            if theirs is None:
                torch_note = "PyTorch is not installed: no comparison."
            else:
                contenders.update({("torch", phase): fn for phase, fn in theirs.items()})
        medians = measure(contenders, args.rounds, args.calls, args.pause, clock)
        rows.append((cell, medians))
    if any(("torch", "forward") in m for _, m in rows):
        header += f"{'torch fwd':>11}{'torch f+b':>11}{'ratio fwd':>11}{'ratio f+b':>11}"
    print(header)
    for cell, m in rows:
        line = f"{cell:<14}{1e3 * m['ours', 'forward']:>10.2f}{1e3 * m['ours', 'forward+backward']:>10.2f}"
        if ("torch", "forward") in m:
            line += (f"{1e3 * m['torch', 'forward']:>11.2f}{1e3 * m['torch', 'forward+backward']:>11.2f}"
                     f"{m['ours', 'forward'] / m['torch', 'forward']:>10.2f}x"
                     f"{m['ours', 'forward+backward'] / m['torch', 'forward+backward']:>10.2f}x")
        print(line)
    lines = {"matmuls": "matrix products alone (the floor of a NumPy LSTM)",
             "fewest calls": "written for the fewest NumPy calls (bench.lstm_fewest_calls)",
             "two threads": "reference on two Python threads, half the batch each, 1 BLAS thread each"}
    for cell, m in rows:
        for key, what in lines.items():
            if (key, "forward+backward") not in m:
                continue
            took = m[key, "forward+backward"]
            line = f"{cell} {what}: {1e3 * took:.2f} ms"
            if ("torch", "forward+backward") in m:
                line += f" = {took / m['torch', 'forward+backward']:.2f}x torch's forward+backward"
            print(line)
    if torch_note:
        print(torch_note)


if __name__ == "__main__":
    main()
