"""The one exception type for bad user input.

Anything raised as `UserError` is the user's to fix (unknown preset, bad value, malformed
file). The CLI prints its message as one line and exits with status 2; the Python API lets
it propagate so notebook users see the same message.
"""


class UserError(ValueError):
    """Bad input from the user: the message names the problem and what is allowed."""
