"""Keras 1.x/2.x model configs -> ModelSpecs (reference/keras_files/spec.py).

A 1.x/2.x config is `{"class_name": "Sequential" | "Model", "config": ...}`, from
`model.to_json()` (which adds `keras_version`, and in 2.x `backend`, at the top level) or
the `model_config` attribute of a `model.save` file (whose root attributes say the same).
A Sequential's `config` is its list of layers (up to 2.2.2) or `{name, layers}` (2.2.3+);
each layer is `{"class_name", "config"}`. A functional model (`Model`) is read by
functional.py (`read(config, translate, release, backend)`), each of its layers translated here.

`read_config(config, keras_version=None, stated=None)` tells the release (the file's
`keras_version`, else the config keys: 1.x and 2.x name their arguments differently),
translates every layer under that release's rules into the reference's arguments
(recurrent12 for the recurrent layers and Bidirectional, layers12 for the others) and
returns a ModelSpec whose `backend` is the file's ("theano", "tensorflow"; None when a
1.x file does not say).
"""

from ..untrusted import quote, shorten
from . import recurrent12, releases12
from .spec import KerasFileError, MergeSpec, ModelSpec, SequentialSpec

from . import layers12

MODEL_CLASSES = ("Sequential", "Model", "Functional")
TOP_KEYS = ("class_name", "config", "keras_version", "backend")


def is_keras12_config(config):
    """Whether a parsed config is a Keras 1.x/2.x one ({"class_name", "config"})."""
    return isinstance(config, dict) and "class_name" in config and "name" not in config


# ---------------------------------------------------------------------------------------
# the release and the backend
# ---------------------------------------------------------------------------------------
def _walk_layers(layers):
    """Every layer entry ({class_name, config}) of a list, wrapped layers included."""
    stack = list(layers) if isinstance(layers, list) else []
    while stack:
        entry = stack.pop()
        if not isinstance(entry, dict):
            continue
        yield entry
        config = entry.get("config")
        if isinstance(config, dict):
            if isinstance(config.get("layer"), dict):  # a wrapper's layer
                stack.append(config["layer"])
            branches = config.get("layers")
            for branch in branches if isinstance(branches, list) else ():
                if isinstance(branch, dict):  # a 1.x Merge's branches: models of their own
                    stack.extend(_layer_list(branch))


def _layer_list(config):
    """The layer entries of a Sequential's or functional model's `config`."""
    inner = config.get("config")
    if isinstance(inner, list):
        return inner
    if isinstance(inner, dict) and isinstance(inner.get("layers"), list):
        return inner["layers"]
    return []


def _major_from_keys(config):
    """(1 or 2 or None, the keys that tell it)."""
    found = {1: set(), 2: set()}
    for entry in _walk_layers(_layer_list(config)):
        layer = entry.get("config")
        if not isinstance(layer, dict):
            continue
        for key in layer:
            if key in releases12.KEYS_1X:
                found[1].add(key)
            elif key in releases12.KEYS_2X:
                found[2].add(key)
    if found[1] and found[2]:
        raise KerasFileError(f"the config mixes Keras 1.x keys ({', '.join(sorted(found[1])[:3])}) and 2.x keys "
                             f"({', '.join(sorted(found[2])[:3])}); no release wrote it")
    for major in (1, 2):
        if found[major]:
            return major, sorted(found[major])
    return None, []


def tell_release(config, keras_version=None, stated=None, keras_backend=None):
    """(release, reason, backend) of a 1.x/2.x config. `stated`: {"keras_version",
    "backend"} from the HDF5 file's root attributes (model.save / save_weights).
    `keras_backend`: the backend the caller names, for files that do not state it (1.x);
    one the file contradicts is refused."""
    stated = stated or {}
    claims = []  # (release, where it is stated)
    for source, value in (("the config's keras_version", config.get("keras_version")),
                          ("the file's keras_version attribute", stated.get("keras_version"))):
        if value is not None:
            if not isinstance(value, str):
                raise KerasFileError(f"{source} must be text, got {quote(value)}")
            claims.append((releases12.check_release(value, source), source))
    if len({r for r, _ in claims}) > 1:
        raise KerasFileError(f"{claims[0][1]} says {quote(claims[0][0])} but {claims[1][1]} says "
                             f"{quote(claims[1][0])}; refused rather than guessing which release wrote it")
    backend = config.get("backend", stated.get("backend"))
    if backend is not None and backend not in releases12.BACKENDS:
        raise KerasFileError(f"the file names backend {quote(backend)}; accepted: {', '.join(releases12.BACKENDS)}")
    if stated.get("backend") not in (None, backend):
        raise KerasFileError(f"the config says backend {quote(backend)} but the file's attribute says "
                             f"{quote(stated['backend'])}")
    if keras_backend is not None:
        if keras_backend not in releases12.BACKENDS:
            raise KerasFileError(f"keras_backend={quote(keras_backend)}: accepted: {', '.join(releases12.BACKENDS)}")
        if backend not in (None, keras_backend):
            raise KerasFileError(f"the file was not written on {keras_backend}: it states backend {quote(backend)}")
        backend = keras_backend
    major, keys = _major_from_keys(config)
    if keras_version is not None:
        named = releases12.check_release(keras_version, "keras_version=")
        if claims and claims[0][0] != named:
            raise KerasFileError(f"the file was not written by Keras {named}: {claims[0][1]} says {claims[0][0]}")
        if major is not None and releases12.major(named) != major:
            raise KerasFileError(f"the file was not written by Keras {named}: its config keys "
                                 f"({', '.join(keys[:3])}) are Keras {major}.x's")
        return named, "named by the caller", backend
    if claims:
        release, source = claims[0]
        if major is not None and releases12.major(release) != major:
            raise KerasFileError(f"{source} says {release}, but the config keys ({', '.join(keys[:3])}) are "
                                 f"Keras {major}.x's; refused rather than guessing")
        reason = {"the config's keras_version": "config key keras_version",
                  "the file's keras_version attribute": "file attribute keras_version"}[source]
        return release, reason, backend
    if major is None:
        raise KerasFileError("the file does not state its Keras release and its keys do not tell 1.x from 2.x; "
                             "name the release (keras_version=, --keras-version)")
    return releases12.MAJOR_SPANS[major], f"config keys {', '.join(keys[:3])} (the file states no release)", backend


# ---------------------------------------------------------------------------------------
# config -> spec
# ---------------------------------------------------------------------------------------
def read_config(config, keras_version=None, stated=None, keras_backend=None):
    """The ModelSpec of a Keras 1.x/2.x model config (a dict)."""
    if not is_keras12_config(config):
        raise KerasFileError("not a Keras 1.x/2.x model config (it has no class_name)")
    class_name = config.get("class_name")
    if class_name not in MODEL_CLASSES:
        raise KerasFileError(f"model class {quote(class_name)} is not read; accepted: Sequential, Model")
    unknown = [k for k in config if k not in TOP_KEYS]
    if unknown:
        raise KerasFileError(f"the model config has an unknown top-level key {quote(unknown[0])}; "
                             f"accepted: {', '.join(TOP_KEYS)}")
    layers = _layer_list(config)
    _check_count(config)
    release, reason, backend = tell_release(config, keras_version, stated, keras_backend)
    if keras_backend is not None and not (stated or {}).get("backend") and not config.get("backend"):
        reason += f"; backend {keras_backend} named by the caller"
    elif backend is None and releases12.major(release) == 1:
        reason += "; Keras 1.x files do not state their backend"
    masked = any(_masks(entry) for entry in _walk_layers(layers))
    context = {"masked": masked, "notes": [], "release": release, "backend": backend}
    if class_name == "Sequential":
        model = _sequential(config.get("config"), context)
    else:
        model = _functional(config.get("config"), context)
    return ModelSpec(model=model, release=release, reason=reason, candidates=(release,), compile=None,
                     notes=context["notes"], warnings=[], backend=backend)


def _check_count(config):
    """untrusted.LIMITS["layers"] over every layer entry, wrapped ones included."""
    from ..untrusted import LIMITS

    limit = LIMITS["layers"].value
    count = 0
    for _ in _walk_layers(_layer_list(config)):
        count += 1
        if count > limit:
            raise KerasFileError(f"the config holds more than {limit} layers, the limit for "
                                 f"{LIMITS['layers'].what}; {LIMITS['layers'].why}")


def _masks(entry):
    layer = entry.get("config") if isinstance(entry.get("config"), dict) else {}
    kind = entry.get("class_name")
    return kind == "Masking" or (kind == "Embedding" and bool(layer.get("mask_zero")))


def _sequential(inner, context, prefix=""):
    if isinstance(inner, dict):  # 2.2.3+: {name, layers}
        extra = [k for k in inner if k not in ("name", "layers", "build_input_shape")]
        if extra:
            raise KerasFileError(f"the Sequential config has an unknown key {quote(extra[0])}; accepted: name, layers")
        inner = inner.get("layers")
    if not isinstance(inner, list) or not inner:
        raise KerasFileError("a Sequential config must hold a non-empty list of layers")
    specs, pending_shape = [], None
    for index, entry in enumerate(inner):
        label = f"{prefix}layer {index}"
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise KerasFileError(f"{label}: a layer entry must be {{class_name, config}}, got {quote(entry)}")
        if index == 0 and entry.get("class_name") == "Merge":
            specs.append(_merge(entry, label, context))
            continue
        if entry.get("class_name") == "InputLayer":  # tf.keras writes it first: its shape is the next layer's
            if specs:
                raise KerasFileError(f"{label}: an InputLayer inside a Sequential is only read first")
            pending_shape = entry["config"].get("batch_input_shape")
            continue
        if pending_shape is not None:
            entry = dict(entry, config=dict(entry["config"], batch_input_shape=pending_shape))
            pending_shape = None
        specs.append(translate(entry, label, context))
    if not specs:
        raise KerasFileError("the Sequential config holds no layer but its InputLayer")
    return SequentialSpec(layers=specs)


def _keys(config, allowed, where, kind):
    unknown = [k for k in config if k not in allowed]
    if unknown:
        raise KerasFileError(f"{where}: unknown config key {quote(unknown[0])}; {kind} is read with: "
                             f"{', '.join(sorted(allowed))}")


MERGE_KEYS = ("name", "trainable", "mode", "mode_type", "concat_axis", "dot_axes", "output_shape", "output_shape_type",
              "output_mask", "output_mask_type", "arguments", "layers")
SEQUENTIAL_MERGE_MODES = ("sum", "mul", "ave", "concat")


def _merge(entry, label, context):
    """A 1.x Sequential's first layer `Merge(layers=[models], mode)`: its branches are
    Sequentials, each with its own input (predict takes one array per branch, in branch
    order). Keras 1.x hands the Merge no mask here (it reads each branch model's input
    node, whose mask is None), so, as the reference's Merge, it passes none on."""
    config = entry["config"]
    where = layers12.where_text(label, "Merge", config)
    _keys(config, set(MERGE_KEYS), where, "a Sequential's Merge")
    if config.get("mode_type", "raw") != "raw" or not isinstance(config.get("mode"), str):
        raise KerasFileError(f"{where}: its mode is a Python function stored in the file; code from a file is "
                             "never run")
    mode = config.get("mode", "sum")
    if mode not in SEQUENTIAL_MERGE_MODES:
        raise KerasFileError(f"{where}: merge mode {quote(mode)} is not read in a Sequential's Merge; accepted: "
                             f"{', '.join(SEQUENTIAL_MERGE_MODES)}")
    branches = config.get("layers")
    if not isinstance(branches, list) or len(branches) < 2:
        raise KerasFileError(f"{where}: 'layers' must list its branch models, got {quote(branches)}")
    specs = []
    for i, branch in enumerate(branches):
        if not isinstance(branch, dict) or branch.get("class_name") != "Sequential":
            raise KerasFileError(f"{where} branch {i}: a branch must be a Sequential model, got "
                                 f"{quote(branch.get('class_name') if isinstance(branch, dict) else branch)}")
        specs.append(_sequential(branch.get("config"), context, f"{label} (Merge) branch {i}: "))
    return MergeSpec(branches=specs, mode=mode, concat_axis=config.get("concat_axis", -1), label=where)


def _functional(inner, context):
    try:
        from . import functional
    except ImportError:
        raise KerasFileError("functional models (class_name Model) are not read yet; only Sequential models "
                             "are") from None
    if not isinstance(inner, dict):
        raise KerasFileError(f"a functional model's config must be a mapping, got {quote(inner)}")

    def translate_entry(entry, label):
        return translate(entry, label, context)

    return functional.read(inner, translate_entry, context["release"], context["backend"])


# ---------------------------------------------------------------------------------------
# one layer
# ---------------------------------------------------------------------------------------
def accepted_classes():
    return sorted(set(recurrent12.RECURRENT12) | set(recurrent12.WRAPPERS12) | set(layers12.accepted_classes())
                  | {"InputLayer"})


def translate(entry, label, context):
    """The LayerSpec of one layer entry {class_name, config} under the context's release."""
    class_name, config = entry.get("class_name"), entry.get("config")
    if not isinstance(class_name, str):
        raise KerasFileError(f"{label}: the layer's class_name must be a string, got {quote(class_name)}")
    if not isinstance(config, dict):
        raise KerasFileError(f"{label} ({shorten(class_name, 40)}): its config must be a mapping, got {quote(config)}")
    release, backend = context["release"], context["backend"]
    if class_name == "Lambda":
        raise KerasFileError(f"{label} (Lambda): a Lambda layer holds Python code (marshalled bytecode or a "
                             "function's name) and code from a file is never run; refused")
    if class_name in ("Merge", "Sequential", "Model"):
        raise KerasFileError(f"{label} ({class_name}): a Merge is read as a Sequential's first layer or in a "
                             "functional model; refused here" if class_name == "Merge" else
                             f"{label} ({class_name}): a model used as a layer is not read; refused")
    if class_name in recurrent12.RECURRENT12 or class_name in recurrent12.WRAPPERS12:
        return recurrent12.translate(class_name, config, release, backend, label, context)
    if class_name in layers12.LAYERS12:
        return layers12.translate(class_name, config, release, backend, label)
    raise KerasFileError(f"{label}: layer class {quote(class_name)} is not read; accepted: "
                         f"{', '.join(accepted_classes())}")
