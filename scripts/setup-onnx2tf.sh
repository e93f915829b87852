#!/usr/bin/env bash
# Make a venv with onnx2tf (ONNX -> TensorFlow Lite) at the path given, for
# docs/onnx2tf.md and tests/rnn2onnx/emitters/test_unrolled_onnx2tf.py.
# onnx2tf is not a dependency of rnn2onnx: it pins TensorFlow 2.19, onnx 1.19 and
# numpy 1.26, so it lives in a venv of its own (about 2.6 GB, 2-3 minutes).
#
#   scripts/setup-onnx2tf.sh /work/venvs/onnx2tf
#   export RNN2ONNX_ONNX2TF_VENV=/work/venvs/onnx2tf   # where the test looks (that path by default)
set -euo pipefail
venv=${1:?usage: scripts/setup-onnx2tf.sh VENV_PATH}
ONNX2TF_VERSION=1.29.24  # the version the recipe in docs/onnx2tf.md was measured with
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
# onnx2tf pins TensorFlow, onnx, onnxruntime, onnxsim, ai-edge-litert, numpy exactly
"$venv/bin/python" -m pip install --quiet "onnx2tf==$ONNX2TF_VERSION"
"$venv/bin/onnx2tf" -h >/dev/null
"$venv/bin/python" -c "import tensorflow as tf, onnx, onnxsim; print('onnx2tf venv ready:', '$venv', 'tensorflow', tf.__version__, 'onnx', onnx.__version__)"
