"""validate(): run an exported model and compare it with the reference's predict."""
from dataclasses import asdict, dataclass, field

import numpy as np

from . import runtimes, structure
from reference.untrusted import quote

from .errors import ExportError, ValidationError
from .masks import PADDING_KINDS, padding_patterns  # noqa: F401 - validate's mixed batch, also public here


class InterfaceError(ExportError):
    """An ONNX file does not take or give what the model does (names, ranks, element types)."""

TOLERANCE = {"float32": 1e-5, "float64": 1e-10}  # max |onnx - reference| / max(S, SCALE_FLOOR)
# The comparison rule, per output: S = max |reference| (the output's own scale), and
#   relative error = max |onnx - reference| / max(S, SCALE_FLOOR[dtype]) <= TOLERANCE[dtype].
# An output of scale S >= SCALE_FLOOR is judged relative to S itself, so an output whose
# values all have the wrong sign fails (its error is 2 S). Below the floor, the absolute
# error allowed is TOLERANCE x SCALE_FLOOR = two ulps at 1 of the dtype: the rounding of a
# computation whose values are of order 1 (gates, tanh), which a small output may carry
# (float32: 6e-8 measured on an output of scale 2.5e-3). Outputs smaller than half of
# that (1.2e-7 in float32, 2.2e-16 in float64) cannot be told from 0.
SCALE_FLOOR = {dtype: 2 * float(np.finfo(dtype).eps) / tol for dtype, tol in TOLERANCE.items()}


@dataclass
class OutputReport:
    name: str
    shape: tuple
    max_abs_error: float
    max_rel_error: float
    tolerance: float

    @property
    def passed(self):
        return bool(self.max_rel_error <= self.tolerance)


@dataclass
class Report:
    runtime: str
    dtype: str
    samples: int
    outputs: list = field(default_factory=list)

    @property
    def passed(self):
        return all(o.passed for o in self.outputs)

    def to_dict(self):
        return {"runtime": self.runtime, "dtype": self.dtype, "samples": self.samples, "passed": self.passed,
                "outputs": [dict(asdict(o), passed=o.passed) for o in self.outputs]}

    def format_table(self):
        rows = [("output", "shape", "max abs err", "max rel err", "tolerance", "result")]
        for o in self.outputs:
            rows.append((o.name, "x".join(map(str, o.shape)), f"{o.max_abs_error:.3e}", f"{o.max_rel_error:.3e}",
                         f"{o.tolerance:.0e}", "pass" if o.passed else "FAIL"))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
        lines.insert(1, "-" * len(lines[0]))
        lines.append(f"{self.runtime}, {self.dtype}, {self.samples} samples: {'PASS' if self.passed else 'FAIL'}")
        return "\n".join(lines)


def shortest_length(model):
    """The shortest sequence the model takes: 1, or more before a convolution or pooling."""
    from reference.convolutional import shortest_input_length

    return shortest_input_length(model.layers) or 1


def generate_inputs(model, n=8, T=7, seed=0):
    """Inputs that exercise every mask kind (at least one sample each: max(n, 6)
    samples): token ids with zeros placed left, right and in the middle after an
    Embedding; random floats (with Masking's value placed the same way where a Masking
    layer reads them) otherwise. What `model.predict` takes: one array, a list per
    branch, or a Graph's dict (each input its own padding)."""
    rng = np.random.default_rng(seed)
    arrays = [port_inputs(port, padding_patterns(n, T, rng), rng, model.dtype) for port in structure.model_inputs(model)]
    return structure.predict_style(model, arrays)


def _fixed_shapes(onnx_model_or_path):
    import onnx

    from .emitters.unrolled import fixed_input_shapes

    proto = onnx_model_or_path
    if not isinstance(proto, onnx.ModelProto):
        proto = onnx.load(proto, load_external_data=False)
    return fixed_input_shapes(proto)


def fixed_shape_inputs(model, shapes, n=8, seed=0):
    """Batches (what `model.predict` takes) of the fixed input `shapes` ({input name: its
    shape}), at least max(n, 6) rows in all so every padding pattern appears (rows of a
    pattern go to successive batches of a small fixed batch)."""
    from .emitters.unrolled import has_time

    ports = structure.model_inputs(model)
    batch = shapes[ports[0].name][0]
    rows = -(-max(n, len(PADDING_KINDS)) // batch) * batch
    rng = np.random.default_rng(seed)
    arrays = []
    for port in ports:
        shape = shapes[port.name]
        T = shape[1] if has_time(port) else 1
        arrays.append(port_inputs(port, padding_patterns(rows, T, rng), rng, model.dtype))
    return [structure.predict_style(model, [a[i:i + batch] for a in arrays]) for i in range(0, rows, batch)]


def inputs_with_mask(model, keep, rng):
    """Random inputs of `model` (a Sequential reading one input) whose masked steps are
    exactly where the (n, T) bool array `keep` is False (see port_inputs)."""
    return port_inputs(structure.chain_port("input", model), keep, rng, model.dtype)


def port_inputs(port, keep, rng, dtype):
    """Random data for input `port` (structure.Port) whose masked steps are exactly where
    the (n, T) bool array `keep` is False: id 0 for token ids, the Masking layer's value
    for floats it reads (other floats carry no mask). An input that takes one sequence
    length (`port.length`) gets it: `keep` cut, or extended unmasked."""
    if port.length is not None and keep.shape[1] != port.length:
        extra = np.ones((len(keep), max(0, port.length - keep.shape[1])), bool)
        keep = np.concatenate([keep[:, :port.length], extra], axis=1)
    n, T = keep.shape
    if port.ids:
        ids = rng.integers(1, port.vocab, size=(n, T)) if port.vocab > 1 else np.zeros((n, T), np.int64)
        return np.where(keep, ids, 0).astype(np.int64)
    shape = list(port.shape)
    if len(shape) == 2:  # (time, features): time is dynamic in every export, whatever input_length says
        shape[0] = T
    X = rng.normal(0.0, 1.0, size=(n,) + tuple(T if s is None else s for s in shape))
    if port.mask_value is not None and X.ndim == 3:
        X[~keep] = port.mask_value
    return X.astype(dtype)


def compare(reference, actual, name, dtype):
    """Max abs error, and that error relative to the output's scale: max |reference|,
    at least SCALE_FLOOR[dtype] (the rule above TOLERANCE).
    Non-finite values (NaN, inf) agree only where the reference has the very same ones:
    Keras itself computes NaN in places (a masked GlobalAveragePooling1D over an
    all-masked row divides 0 by 0), and a file must reproduce that. Any other non-finite
    value, and an output with no finite value at all (a model computing NaN everywhere
    is broken, not in agreement), is a failure: its error is inf."""
    reference, actual = np.asarray(reference, np.float64), np.asarray(actual, np.float64)
    if reference.shape != actual.shape:
        return OutputReport(name, tuple(actual.shape), float("inf"), float("inf"), TOLERANCE[dtype])
    finite = np.isfinite(reference)
    if not np.all(finite):
        same = np.array_equal(np.isnan(reference), np.isnan(actual)) and np.array_equal(
            np.where(np.isinf(reference), reference, 0.0), np.where(np.isinf(actual), actual, 0.0))
        if not same or not np.any(finite):
            return OutputReport(name, tuple(reference.shape), float("inf"), float("inf"), TOLERANCE[dtype])
        reference, actual = reference[finite], actual[finite]
    elif not np.all(np.isfinite(actual)):
        return OutputReport(name, tuple(reference.shape), float("inf"), float("inf"), TOLERANCE[dtype])
    diff = np.abs(reference - actual)
    abs_err = float(np.max(diff)) if diff.size else 0.0
    scale = float(np.max(np.abs(reference))) if reference.size else 0.0
    rel_err = abs_err / max(scale, SCALE_FLOOR[dtype])
    return OutputReport(name, tuple(reference.shape), abs_err, rel_err, TOLERANCE[dtype])


def check_interface(model, onnx_model_or_path):
    """Raise InterfaceError unless the ONNX model takes and gives what `model` does: its
    inputs and outputs by name and in order (structure.model_inputs/model_outputs), their
    ranks and element types. Checked before running it, so a mismatched file gets a
    sentence, not a runtime dump. Returns the onnx.ModelProto (without external data)."""
    import onnx
    from onnx import TensorProto

    proto = onnx_model_or_path
    if not isinstance(proto, onnx.ModelProto):
        try:
            proto = onnx.load(onnx_model_or_path, load_external_data=False)
        except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends
            raise InterfaceError(f"{onnx_model_or_path} is not a readable ONNX file") from None
    elem = TensorProto.DOUBLE if str(model.dtype) == "float64" else TensorProto.FLOAT
    want = {
        "input": [(p.name, TensorProto.INT64 if p.ids else elem, 1 + len(p.shape)) for p in structure.model_inputs(model)],
        "output": [(p.name, TensorProto.INT64 if p.ids else elem, 1 + len(p.shape)) for p in structure.model_outputs(model)],
    }
    initializers = {t.name for t in proto.graph.initializer}
    have = {"input": [v for v in proto.graph.input if v.name not in initializers], "output": list(proto.graph.output)}
    for kind, ports in want.items():
        values = have[kind]
        names = [name for name, _, _ in ports]
        if [v.name for v in values] != names:
            raise InterfaceError(f"the ONNX file has {kind}s {quote([v.name for v in values])}, but a file exported "
                                 f"from this model has {kind}s {quote(names)}")
        for (name, elem_type, rank), value in zip(ports, values):
            t = value.type.tensor_type
            got_elem = TensorProto.DataType.Name(t.elem_type) if t.elem_type else "unknown"
            if t.elem_type != elem_type:
                raise InterfaceError(f"the ONNX file's {kind} {name!r} has element type {got_elem}, but the "
                                     f"model's is {TensorProto.DataType.Name(elem_type)}")
            if t.HasField("shape") and len(t.shape.dim) != rank:
                raise InterfaceError(f"the ONNX file's {kind} {name!r} has rank {len(t.shape.dim)}, but the "
                                     f"model's has rank {rank}")
    return proto


def validate(model, onnx_model_or_path, inputs=None, n=8, runtime="onnxruntime", raise_on_failure=True,
             untrusted=None, time_limit=runtimes.UNTRUSTED_TIME_LIMIT):
    """Compare `runtime` on the exported model with `model.predict`, every output.
    `untrusted` (default: True for a file path, False for an onnx.ModelProto in memory):
    run the file as one from elsewhere (runtimes.load_untrusted: checked statically, then
    run in a worker process stopped after `time_limit` s, under a memory limit); export's
    check of the file it has just written runs in this process. `inputs`:
    what `model.predict` takes (one array, or a list per input); with none, generated
    ones of lengths 7 and 1 are used (max(n, 6) and 6 samples: every padding kind).
    Returns a Report (the worst batch per output); raises ValidationError carrying it on
    failure."""
    from reference.validators import positive_int

    n = positive_int(n, "validate", "n", limit="samples")
    dtype = str(model.dtype)
    shortest = shortest_length(model)
    proto = check_interface(model, onnx_model_or_path)
    fixed = None if inputs is not None else _fixed_shapes(proto)
    if inputs is not None:
        batches = [inputs]
    elif fixed is not None:  # a file for one input shape (export's fixed_shape)
        batches = fixed_shape_inputs(model, fixed, n)
    else:
        batches = [generate_inputs(model, n=n, T=max(7, shortest)), generate_inputs(model, n=2, T=shortest, seed=1)]
    if untrusted is None:
        untrusted = not runtimes.is_proto(onnx_model_or_path)
    run = _load(runtime, onnx_model_or_path, proto, untrusted, time_limit)
    try:
        return _compare_batches(model, run, batches, runtime, dtype, raise_on_failure)
    finally:
        if untrusted:
            run.close()


def _load(runtime, onnx_model_or_path, proto, untrusted, time_limit):
    """The runtime's run function; a runtime's refusal to load is one sentence."""
    if untrusted:
        return runtimes.load_untrusted(runtime, onnx_model_or_path, proto, time_limit=time_limit)
    try:
        return runtimes.load(runtime, onnx_model_or_path)
    except (runtimes.RuntimeNotAvailable, runtimes.RuntimeCrashed, runtimes.RuntimeRefused):
        raise
    except Exception as exc:  # noqa: BLE001 - each runtime raises its own kinds
        from .tract_worker import runtime_message

        raise runtimes.RuntimeRefused(f"{runtime} refused the model: {runtime_message(exc)}") from None


def _compare_batches(model, run, batches, runtime, dtype, raise_on_failure):
    outputs = structure.model_outputs(model)
    worst = [None] * len(outputs)
    samples = 0
    for X in batches:
        feed = structure.feeds(model, X)
        samples += len(next(iter(feed.values())))
        expected = structure.predict_outputs(model, structure.predict_style(model, list(feed.values())))
        actual = run(feed)
        for i, (port, e, a) in enumerate(zip(outputs, expected, actual)):
            result = compare(e, a, port.name, dtype)
            if worst[i] is None or not result.max_rel_error <= worst[i].max_rel_error:  # NaN counts as worst
                worst[i] = result
    report = Report(runtime, dtype, int(samples), worst)
    if raise_on_failure and not report.passed:
        raise ValidationError(report)
    return report
