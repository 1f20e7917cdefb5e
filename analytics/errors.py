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
