"""The problem catalogue: every error code the service answers, read from the code that raises it."""
