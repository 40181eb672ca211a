"""The scenario package's exception family."""


class ScenarioError(Exception):
    """Base of every error a scenario run raises."""


class ScenarioFileError(ScenarioError):
    """The scenario file is wrong; the message names the line or key."""
