"""The one error type users see: a bad input, reported as one clear line."""


class InputError(Exception):
    """A malformed or inconsistent input.

    The message names the file and the record, says what is wrong and what would
    be right; the CLI prints it as one line and exits with status 2.
    """
