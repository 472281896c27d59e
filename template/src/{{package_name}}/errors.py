"""Errors a user can fix: the stages print their message as one line and exit non-zero."""


class UserError(Exception):
    """A problem with the input or the configuration; the message names it and the fix."""


class DataError(UserError):
    """The data source or the data settings cannot produce a usable data set."""
