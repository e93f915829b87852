"""rnn2onnx: compile Keras 0.2.0 recurrent models (the `reference` package) to ONNX."""
__version__ = "0.1.0"

from .errors import ExportError, ValidationError  # noqa: E402
from .export import export, plan, supported_opsets  # noqa: E402
from .validate import Report, validate  # noqa: E402

__all__ = ["export", "plan", "validate", "supported_opsets", "ExportError", "ValidationError", "Report"]
