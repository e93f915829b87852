"""rnn2onnx: compile Keras recurrent models (the `reference` package: Keras 0.2.0, and what 0.1.x-2.x computed) to ONNX."""
__version__ = "0.1.0"

from .errors import ExportError, ValidationError  # noqa: E402
from .exporter import export, plan, supported_opsets  # noqa: E402
from .validation import Report, validate  # noqa: E402

__all__ = ["export", "plan", "validate", "supported_opsets", "ExportError", "ValidationError", "Report"]
