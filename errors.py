"""The one error type for problems with what the user gave us (files, sizes, flags).

Its message is a single line that names the file or setting and what is wrong; the command-line
programs print it as ``error: <message>`` and exit with status 2 instead of showing a traceback.
"""


class InputError(Exception):
    """Bad user input: a missing or malformed file, an impossible size, a bad flag value."""
