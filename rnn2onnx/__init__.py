"""rnn2onnx: compile Keras 0.2.0 recurrent models (the `reference` package) to ONNX."""
__version__ = "0.1.0"
