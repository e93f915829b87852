"""A Keras model config's text: read from a file, parsed (JSON or safe YAML), and written.

YAML written by Keras 0.2.0 tags tuples `!!python/tuple`; it is read with untrusted.py's
bounded safe loader that knows that one tag only. No pickle, no eval, no unsafe YAML.
"""
import json
import os

import yaml

from ..files import open_input
from ..untrusted import MAX_CONFIG_CHARS, BoundedSafeLoader, ConfigLimitError, parse_json, parse_yaml, shorten
from .spec import KerasFileError


def _decode(text):
    if isinstance(text, (bytes, bytearray)):
        try:
            return bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise KerasFileError(f"the config is not UTF-8 text ({exc})") from None
    if not isinstance(text, str):
        raise KerasFileError(f"a config must be text, got {type(text).__name__}")
    return text


def config_from_json(text):
    """The config dict of `model.to_json()` text."""
    try:
        return parse_json(_decode(text))
    except json.JSONDecodeError as exc:
        raise KerasFileError(f"the config is not valid JSON: {shorten(exc, 160)}") from None
    except ConfigLimitError as exc:
        raise KerasFileError(str(exc)) from None


class KerasYamlLoader(BoundedSafeLoader):
    """PyYAML's safe loader (with untrusted.py's alias and depth limits) plus the one tag
    0.2.0's `to_yaml` wrote: `!!python/tuple`."""


def _construct_tuple(loader, node):
    return tuple(loader.construct_sequence(node, deep=True))


KerasYamlLoader.add_constructor("tag:yaml.org,2002:python/tuple", _construct_tuple)


class KerasYamlDumper(yaml.SafeDumper):
    """Writes tuples as `!!python/tuple`, as 0.2.0's `yaml.dump` did; nothing else unsafe."""


def _represent_tuple(dumper, data):
    return dumper.represent_sequence("tag:yaml.org,2002:python/tuple", list(data))


KerasYamlDumper.add_representer(tuple, _represent_tuple)


def config_from_yaml(text):
    """The config dict of `model.to_yaml()` text (safe loader; `!!python/tuple` allowed)."""
    try:
        return parse_yaml(_decode(text), KerasYamlLoader)
    except ConfigLimitError as exc:
        raise KerasFileError(str(exc)) from None
    except yaml.constructor.ConstructorError as exc:
        tag = getattr(exc, "problem", "") or str(exc)
        raise KerasFileError(
            f"the YAML config uses a tag that is not allowed ({shorten(tag, 120)}); "
            "only plain YAML and !!python/tuple are read"
        ) from None
    except yaml.YAMLError as exc:
        raise KerasFileError(f"the config is not valid YAML: {shorten(exc, 240)}") from None


def read_config_file(path):
    """(kind, text) of a .json/.yaml/.yml config file (other names: sniffed from the first character)."""
    try:
        with open_input(path, "config file") as f:
            # in chunks: read(n) allocates n bytes up front (64 MiB for every config)
            chunks, size = [], 0
            while size <= MAX_CONFIG_CHARS:
                chunk = f.read(1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
                size += len(chunk)
            raw = b"".join(chunks)
        if len(raw) > MAX_CONFIG_CHARS:
            raise KerasFileError(f"config file {path} is larger than {MAX_CONFIG_CHARS} bytes; "
                                 "a Keras model config is far smaller")
    except OSError as exc:
        raise KerasFileError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    text = _decode(raw)
    ext = os.path.splitext(str(path))[1].lower()
    kind = {".json": "json", ".yaml": "yaml", ".yml": "yaml"}.get(ext)
    if kind is None:
        kind = "json" if text.lstrip()[:1] in ("{", "[") else "yaml"
    return kind, text


def config_from_file(path):
    """The config dict of a config file."""
    kind, text = read_config_file(path)
    return config_from_json(text) if kind == "json" else config_from_yaml(text)


def _listify(value):
    if isinstance(value, (list, tuple)):
        return [_listify(v) for v in value]
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    return value


def to_json(config, **kwargs):
    """A config dict as `model.to_json()` text; keyword arguments go to `json.dumps`."""
    return json.dumps(_listify(config), **kwargs)


def to_yaml(config, **kwargs):
    """A config dict as `model.to_yaml()` text (shapes tagged `!!python/tuple`); kwargs go to `yaml.dump`."""
    kwargs.setdefault("default_flow_style", None)
    return yaml.dump(config, Dumper=KerasYamlDumper, **kwargs)
