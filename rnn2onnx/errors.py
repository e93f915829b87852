"""Errors of the compiler."""


class ExportError(ValueError):
    """A model (or a layer of it) cannot be exported as asked; the message says what would work."""


class ValidationError(AssertionError):
    """The exported graph disagrees with the reference; `.report` holds the comparison."""

    def __init__(self, report):
        self.report = report
        super().__init__("exported model disagrees with the reference:\n" + report.format_table())
