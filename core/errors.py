"""The one error tree of Sourcebook.

Adapters translate foreign exceptions into these; ``api/errors.py`` alone maps them to HTTP.

    SourcebookError
    ├── NotFound              a collection, document or job that does not exist (404)
    ├── Conflict              the request contradicts current state (409)
    ├── InvalidInput          a request or file a user must fix (400/422)
    │   ├── InvalidFields     named parts of a well-formed request are wrong, each said (422)
    │   ├── Unsupported       a file type Sourcebook cannot read (415)
    │   └── TooLarge          a file or image beyond a safety limit (413)
    ├── IngestFailed          a document could not be parsed, OCR'd or embedded (failed status)
    ├── Unauthorized          no or unknown credentials (401)
    ├── Forbidden             known caller, not allowed (403)
    ├── QuotaExceeded         over a quota or rate limit (429)
    └── BackendUnavailable    the catalog, vector store, queue or a model is down (503)

Every message is written for the person who will read it: it says what is wrong with *their*
input, never how our code failed.
"""

from __future__ import annotations

from collections.abc import Sequence


class SourcebookError(Exception):
    """Base of every error Sourcebook raises on purpose."""

    @property
    def reason(self) -> str:
        return str(self.args[0]) if self.args else type(self).__name__


class NotFound(SourcebookError):
    pass


class Conflict(SourcebookError):
    pass


class InvalidInput(SourcebookError):
    pass


class InvalidFields(InvalidInput):
    """Named parts of a request are wrong; ``problems`` holds (where, what is wrong) pairs."""

    def __init__(self, reason: str, problems: Sequence[tuple[str, str]]) -> None:
        super().__init__(reason)
        self.problems = tuple(problems)


class Unsupported(InvalidInput):
    pass


class TooLarge(InvalidInput):
    pass


class IngestFailed(SourcebookError):
    pass


class Unauthorized(SourcebookError):
    pass


class Forbidden(SourcebookError):
    pass


class QuotaExceeded(SourcebookError):
    def __init__(self, reason: str, retry_after_s: int) -> None:
        super().__init__(reason)
        self.retry_after_s = retry_after_s


class BackendUnavailable(SourcebookError):
    pass
