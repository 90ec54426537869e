"""Errors that are the user's to fix (exit status 2 at the command line)."""


class UserError(Exception):
    """Bad input or arguments: the CLI prints the message (no traceback) and exits 2."""


class PseudonymCollision(Exception):
    """Two patient ids of one cohort map to one pseudonym: the run stops (exit 1), never merging
    two patients silently. With 64-bit pseudonyms this has probability about 3e-8 at 1,000,000
    patients; it is checked all the same."""


class InvalidCohort(UserError):
    """Validation errors that stop a run (without ``--exclude-invalid``); ``issues`` lists every
    problem (the CLI prints them as the validate table before the message)."""

    def __init__(self, cohort_path, issues):
        n = int((issues["severity"] == "error").sum())
        super().__init__(f"{cohort_path}: {n} validation error(s); fix them, or rerun with --exclude-invalid "
                         "to leave the affected rows out (each listed in issues.csv)")
        self.issues = issues
