"""What a check found: one result per named check, with its outcome and the reason."""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

PASSED, FAILED, NOT_RUN = "passed", "failed", "not run"
CATEGORIES = ("openapi", "accessibility", "security", "consent")


@dataclass
class Result:
    """One check: CATEGORY and NAME identify it; OUTCOME is passed, failed or not run."""

    category: str
    name: str
    outcome: str = PASSED
    message: str = ""
    details: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cases: int = 0

    def fail(self, message: str, *details: str) -> "Result":
        """Mark this result failed (the first message stays the headline) and add DETAILS."""
        if self.outcome != FAILED:
            self.outcome, self.message = FAILED, message
        elif message and message not in self.details:
            self.details.append(message)
        self.details.extend(d for d in details if d)
        return self

    def skip(self, reason: str) -> "Result":
        """Mark this result not run, for REASON (a missing credential, an absent endpoint)."""
        self.outcome, self.message = NOT_RUN, reason
        return self

    @property
    def failed(self) -> bool:
        return self.outcome == FAILED


class Skip(Exception):
    """Raised inside a check that cannot run; the message says why."""


@contextmanager
def timed(result: Result):
    """Time RESULT; an uncaught error fails it, a Skip marks it not run."""
    start = time.monotonic()
    try:
        yield result
    except Skip as exc:
        result.skip(str(exc))
    except AssertionError as exc:
        result.fail(str(exc) or "assertion failed")
    except Exception as exc:  # a check must never take the whole run down
        result.fail(f"the check could not finish: {type(exc).__name__}: {exc}")
    finally:
        result.seconds = time.monotonic() - start
