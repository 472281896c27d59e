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


class ProjectError(ScaffoldError):
    """The folder is not a usable generated project (no answers file, no git, bad source)."""


class DirtyTreeError(ScaffoldError):
    """The project has uncommitted changes; an update would mix them with the template's."""


class VersionError(ScaffoldError):
    """The requested template version does not exist or would be a downgrade."""


class ReleaseError(ScaffoldError):
    """The template cannot be released as it is."""


class UpdateError(ScaffoldError):
    """The update failed midway; the repository was restored to its state before."""


class UntrustedTemplateError(ScaffoldError):
    """The template would run its own code (tasks, migrations, Jinja extensions) but is not trusted."""


class UpdateInterruptedError(ScaffoldError):
    """An earlier update of this repository was interrupted; its half-updated tree must be undone first."""


class UpdateRunningError(ScaffoldError):
    """Another update of this repository is running right now."""


class FleetInterrupted(ScaffoldError):
    """Ctrl-C during a fleet run: repositories in progress finished or rolled back, the rest untouched."""

    exit_code = 130


class SettingsFileError(ScaffoldError):
    """copier's user settings file (its `trust:` list) is missing where named, or invalid."""
