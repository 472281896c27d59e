"""Errors a user can fix: the stages print their message as one line and exit non-zero."""


class UserError(Exception):
    """A problem with the input or the configuration; the message names it and the fix."""


class DataError(UserError):
    """The data source or the data settings cannot produce a usable data set."""


class ServeError(UserError):
    """The serve settings cannot start a server."""


class ArtifactError(UserError):
    """An exported artifact is missing, incomplete or modified, or the registry has no such version."""
