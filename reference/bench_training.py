"""Time one training epoch of example (a) (examples/sentiment_lstm.py) in the reference
and, when torch is importable, the same model in PyTorch; print the ratio.

    python -m reference.bench_training [--repeats 3] [--samples 2000] [--batch-size 32]

The PyTorch model is Embedding -> LSTM -> Linear -> sigmoid with the same sizes, loss
(binary cross-entropy), optimizer (Adam, lr 0.001), batch size and data. It runs
the LSTM over every padded timestep, as the reference does (the mask changes what is
computed, not how much), and uses torch's default thread count. torch is not a
dependency of the project; without it only the reference is timed.
"""
import argparse
import importlib.util
import os
import time

import numpy as np

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "sentiment_lstm.py")


def load_example(path=EXAMPLE):
    if not os.path.exists(path):
        raise FileNotFoundError(f"example (a) not found at {path}: run the benchmark from a checkout of the project")
    spec = importlib.util.spec_from_file_location("sentiment_lstm_example", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def time_reference_epoch(example, X, y, batch_size, seed):
    model = example.build_model(seed=seed)
    start = time.perf_counter()
    model.fit(X, y, batch_size=batch_size, nb_epoch=1, verbose=0, shuffle=True)
    return time.perf_counter() - start


def time_torch_epoch(X, y, batch_size, seed, embed_dim, hidden, vocab):
    import torch
    from torch import nn

    torch.manual_seed(seed)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embedding = nn.Embedding(vocab, embed_dim)
            self.lstm = nn.LSTM(embed_dim, hidden, batch_first=True)
            self.dense = nn.Linear(hidden, 1)

        def forward(self, ids):
            h, _ = self.lstm(self.embedding(ids))
            return torch.sigmoid(self.dense(h[:, -1]))

    net = Net()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.001)
    loss_fn = nn.BCELoss()
    Xt = torch.as_tensor(X, dtype=torch.long)
    yt = torch.as_tensor(y, dtype=torch.float32).reshape(-1, 1)
    generator = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    order = torch.randperm(len(Xt), generator=generator)
    for i in range(0, len(Xt), batch_size):
        ids = order[i:i + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(net(Xt[ids]), yt[ids])
        loss.backward()
        optimizer.step()
    return time.perf_counter() - start


def bench_epoch(repeats=3, samples=2000, batch_size=32, seed=0, use_torch=True, print_fn=print):
    """{"reference_s", "torch_s" (None without torch), "ratio" (reference / torch or None), ...};
    each time is the best of `repeats` epochs."""
    example = load_example()
    X, y = example.make_data(samples, np.random.default_rng(seed))
    model = example.build_model(seed=seed)
    embed_dim = model.layers[0].output_dim
    hidden = model.layers[1].output_dim
    time_reference_epoch(example, X[:batch_size * 2], y[:batch_size * 2], batch_size, seed)  # warm-up
    reference_s = min(time_reference_epoch(example, X, y, batch_size, seed) for _ in range(repeats))
    result = {"samples": samples, "batch_size": batch_size, "timesteps": X.shape[1],
              "reference_s": reference_s, "torch_s": None, "ratio": None}
    print_fn(f"example (a): Embedding({example.VOCAB}, {embed_dim}, mask_zero) -> LSTM({hidden}) -> Dense(1) -> "
             f"sigmoid; {samples} samples x {X.shape[1]} steps, batch {batch_size}")
    print_fn(f"reference ({model.dtype}): {reference_s:.3f} s/epoch ({samples / reference_s:,.0f} samples/s)")
    if use_torch:
        try:
            import torch
        except ImportError:
            print_fn("torch is not installed: no comparison (pip install torch to measure the ratio)")
            return result
        time_torch_epoch(X[:batch_size * 2], y[:batch_size * 2], batch_size, seed, embed_dim, hidden, example.VOCAB)
        torch_s = min(time_torch_epoch(X, y, batch_size, seed, embed_dim, hidden, example.VOCAB)
                      for _ in range(repeats))
        result.update(torch_s=torch_s, ratio=reference_s / torch_s, torch_version=torch.__version__,
                      torch_threads=torch.get_num_threads())
        print_fn(f"torch {torch.__version__} ({torch.get_num_threads()} threads, float32): {torch_s:.3f} s/epoch "
                 f"({samples / torch_s:,.0f} samples/s)")
        print_fn(f"ratio reference / torch: {reference_s / torch_s:.2f}x")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description="time one training epoch of example (a)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-torch", action="store_true", help="time the reference only")
    args = parser.parse_args(argv)
    bench_epoch(repeats=args.repeats, samples=args.samples, batch_size=args.batch_size, seed=args.seed,
                use_torch=not args.no_torch)


if __name__ == "__main__":
    main()
