"""Which steps of each input row a mask keeps, as (n, T) bool arrays (True: kept), for the
conformance matrix, validate() and the tests: one place that says what each mask kind is.
Inputs with exactly these masked steps: validation.port_inputs."""
import numpy as np

# a batch's mask kind, as the conformance matrix names them ("masking": a Masking layer's
# input, its rows mixing the other kinds and zero-length rows)
KINDS = ("none", "left", "right", "holes", "masking")
# validate()'s mixed batch: every row kind in turn
PADDING_KINDS = ("unmasked", "left-padded", "right-padded", "holes", "all masked but one step", "all masked")


def keep(kind, n, T, rng):
    """(n, T) bool for a batch of mask kind `kind` (KINDS, or "every"):
    none: every step kept; left/right: row i padded by i % T steps (row 0 unpadded, and
    with n >= T a row keeping one step); holes: each step kept with probability 0.6, the
    last row all masked (a zero-length row); masking: rows left, right, holes and all
    masked in turn (paddings by i % T as above);
    every: padding_patterns (validate's: each PADDING_KINDS row at least once)."""
    if kind == "every":
        return padding_patterns(n, T, rng)
    if kind not in KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; the kinds are {', '.join(KINDS + ('every',))}")
    mask = np.ones((n, T), dtype=bool)
    for i in range(n):
        pad = i % T
        row = kind if kind != "masking" else ("left", "right", "holes", "all")[i % 4]
        if row == "left":
            mask[i, :pad] = False
        elif row == "right":
            mask[i, T - pad:] = False
        elif row == "holes":
            mask[i] = rng.random(T) < 0.6
            if i == n - 1:
                mask[i] = False  # one all-masked row
        elif row == "all":
            mask[i] = False
    return mask


def padding_patterns(n, T, rng):
    """(max(n, 6), T) masks cycling through PADDING_KINDS: every kind is drawn whatever
    `n` is (a batch smaller than the kinds is sized up), so a model exported without its
    mask cannot agree with the reference. Paddings are drawn at random (1..T-1 steps), a
    holes row keeps its first and last steps and has at least one hole between: each row
    is its kind whatever T > 2 and the draw."""
    n = max(int(n), len(PADDING_KINDS))
    masks = np.ones((n, T), dtype=bool)
    for i in range(n):
        pad = int(rng.integers(1, T)) if T > 1 else 0
        kind = i % len(PADDING_KINDS)
        if kind == 1:
            masks[i, :pad] = False
        elif kind == 2:
            masks[i, T - pad:] = False
        elif kind == 3 and T > 2:
            masks[i, 1:T - 1] = rng.random(T - 2) < 0.5
            masks[i, 1 + rng.integers(T - 2)] = False  # at least one hole
        elif kind == 4:
            masks[i] = False
            masks[i, rng.integers(T)] = True
        elif kind == 5:
            masks[i] = False
    return masks
