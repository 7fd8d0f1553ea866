"""The CLI's errors for bad input: each is reported as one message, with no traceback."""


class ConvertError(ValueError):
    """Input that cannot become an SFTJob. The message says what is wrong and what to write."""


class ManifestError(ValueError):
    """A manifest that cannot be read or is no SFTJob: one line, no traceback."""
