"""Keras model files: per-release readers that return plain specs, and the 0.2.0 writer.

- `spec`: what a reader returns (ModelSpec, SequentialSpec, GraphSpec, MergeSpec,
  LayerSpec) and KerasFileError;
- `releases`: Keras 0.1.0–0.3.3, the config keys each wrote and their effect, each
  release's rules (mask rule, cell bugs, defaults);
- `keras0`: 0.1.x–0.3.x configs -> specs, telling the release from the keys;
- `text`: config text (JSON, safe YAML) read and written;
- `hdf5`: 0.x HDF5 weights (`save_weights` layout) read into and written from a model;
- `keras02_writer`: a reference model's config as Keras 0.2.0 wrote it.

Nothing here builds or imports a model: reference/build.py turns a spec into one.
Readers for Keras 1.x/2.x files belong here too (a `keras1`/`keras2` reader producing the
same specs, their weights reordered into the reference's order, and an HDF5 reader for
their `layer_names`/`weight_names` layout), with their releases added to `releases`.
"""
from .spec import (FunctionalSpec, GraphSpec, InputSpec, KerasFileError, LayerSpec, MergeSpec, ModelSpec,  # noqa: F401
                   NodeSpec, SequentialSpec)
