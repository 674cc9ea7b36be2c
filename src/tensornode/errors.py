"""TensorNode's own exceptions: the only errors that reach a user.

Third-party exceptions (httpx, SQLAlchemy, subprocess, SSH, SDKs) are translated into
these at the boundary where they happen, with the id of the thing they concern. The
HTTP layer renders every one of them as ``{"error": message}`` with ``status``.

    TensorNodeError                     500  base; ``status`` is the HTTP status it maps to
     ├── InvalidInput                   400  malformed or out-of-range input (``status`` may be 422)
     │    └── PayloadTooLarge           413
     ├── Unauthenticated                401  no or bad credential
     ├── Forbidden                      403  authenticated but not allowed
     ├── NotFound                       404  absent, or owned by someone else
     ├── Conflict                       409  state does not allow the action
     ├── RateLimited                    429  carries ``retry_after`` seconds
     ├── ServiceUnavailable             503  busy or not ready; carries ``retry_after``
     ├── BackendError                   500  a model backend failed on a request
     ├── UpstreamError                  502  a remote service (provider, miner, ledger) failed
     │    ├── ProviderError                  a VM provider's API or host failed
     │    ├── LedgerError                    a Hedera node, receipt or mirror node refused/failed
     │    └── RuntimeFailure                 building or running a miner failed
     └── ConfigurationError             500  settings that cannot work
"""

from __future__ import annotations


class TensorNodeError(Exception):
    """Base of every error TensorNode raises on purpose."""

    status: int = 500

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class InvalidInput(TensorNodeError):
    status = 400


class PayloadTooLarge(InvalidInput):
    status = 413


class Unauthenticated(TensorNodeError):
    status = 401


class Forbidden(TensorNodeError):
    status = 403


class NotFound(TensorNodeError):
    status = 404


class Conflict(TensorNodeError):
    status = 409


class RateLimited(TensorNodeError):
    status = 429

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(TensorNodeError):
    status = 503

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class BackendError(TensorNodeError):
    status = 500


class UpstreamError(TensorNodeError):
    status = 502


class ProviderError(UpstreamError):
    pass


class LedgerError(UpstreamError):
    """A Hedera node, receipt or mirror node refused or failed; ``code`` is Hedera's status."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class RuntimeFailure(UpstreamError):
    pass


class ConfigurationError(TensorNodeError):
    status = 500
