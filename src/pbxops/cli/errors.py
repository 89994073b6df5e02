"""Errors an operator can act on: printed as one line, never as a traceback."""


class OperatorError(Exception):
    """Bad input or a refused request; the message is one human sentence."""
