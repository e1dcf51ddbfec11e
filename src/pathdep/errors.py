"""The one exception users see: a problem in their input, with the fix.

The command line prints its message and exits with status 2; anything else that
escapes is a bug in pathdep and keeps its traceback.
"""


class PathdepError(Exception):
    """Bad input: a malformed spec, a missing or corrupt file, mismatched data.

    The message names the problem and says how to fix it.
    """
