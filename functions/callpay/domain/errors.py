"""The domain's errors; each maps to one HTTP status in one place (callpay.http_api)."""


class DomainError(Exception):
    """An error the caller can act on, with a stable machine-readable code."""

    status = 400

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidInput(DomainError):
    status = 422


class BadRequest(DomainError):
    status = 400


class Unauthenticated(DomainError):
    status = 401


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    """The request is valid but the payment's current state does not allow it."""

    status = 409


class PaymentDeclined(DomainError):
    status = 402


class UpstreamUnavailable(DomainError):
    """Stripe or AWS is briefly unavailable; retrying with the same key is safe."""

    status = 503
