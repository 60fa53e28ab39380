"""The one kind of failure a writer can cause.

Code anywhere in kizuna/ raises KizunaError (or a subclass) for a mistake the
writer can fix: a broken essay, a missing setting, an unknown comment id, a
busy port. The task layer (tasks.py) turns it into its message and exit code
1; anything else is a bug in Kizuna and keeps its traceback."""


class KizunaError(Exception):
    """Something the writer must hear about, in words, with no traceback."""
