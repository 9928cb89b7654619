"""The one exception type for user errors.

Anything raised as :class:`UserError` is a mistake in the user's input (a file, a graph, a dataset, a
command-line argument) and carries a message meant for a person: the CLI prints it on one line and exits 1,
the GUI shows it in a dialog or the problems panel.  Any other exception is a bug.
"""


class UserError(Exception):
    """A problem with the user's input, with a message that names what, where and what was expected."""
