"""The one error type of the CLI: bad input, reported as one message and exit status 2."""


class ConvertError(ValueError):
    """Input that cannot become an SFTJob. The message says what is wrong and what to write."""
