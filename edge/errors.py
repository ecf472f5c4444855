"""The one exception type for bad user input.

The CLI catches it and prints its message as a single line with a non-zero
exit status: no traceback for a user's mistake.
"""
from __future__ import annotations


class UserError(Exception):
    """Bad input (file, argument, payload) with a message that names what and where."""
