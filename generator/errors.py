"""Typed errors: the library raises these, the CLI turns each into a message and exit code."""


class ScaffoldError(Exception):
    """A failure the user can act on; the message names the problem and the fix."""

    exit_code = 2


class TemplateSourceError(ScaffoldError):
    """No template could be found, or the given one is not a template."""


class InvalidAnswerError(ScaffoldError):
    """An answer to a template question was refused."""


class DestinationError(ScaffoldError):
    """The destination folder cannot receive a new project."""


class GenerationError(ScaffoldError):
    """Rendering or a post-generation task failed; nothing was left behind."""
