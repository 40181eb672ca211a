"""The domain's exception family: a rule of the registry was broken by the caller."""


class DomainError(Exception):
    """Base of every error the domain core raises."""


class RegistryError(DomainError):
    """A registry value is inconsistent (bad thresholds, unknown id, ...)."""
