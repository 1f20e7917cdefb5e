"""Domain exceptions. Each subclasses ValueError and says what went wrong and what to do next;
the dashboard shows the message as a sentence (never a traceback)."""


class RetentionError(ValueError):
    """Base of every error a user of the product may see."""


class StoreError(RetentionError):
    """The store cannot be opened, built or queried as asked."""


class ImportRejected(RetentionError):
    """An import was rejected as a whole; the store is unchanged."""


class SurvivalInputError(RetentionError):
    """Survival data cannot be analysed as given (empty cohort, negative or missing durations,
    no events, a constant covariate...). The message names the column, the number of offending
    rows and what to do."""


class AccessDenied(RetentionError):
    """The viewer may not see or do what was asked (role, clinic scope, sign-in, session).
    The message names what was refused and, where there is one, what to do instead."""
