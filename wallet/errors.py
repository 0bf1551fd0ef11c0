"""Typed domain errors, turned into HTTP replies in one place.

Every error reply is ``{"code": "...", "message": "...", "details": ...}``; ``code`` is
stable and machine-readable, ``message`` speaks to the cashier or operator.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR


class ErrorReply(msgspec.Struct, frozen=True):
    """The body of every error reply."""

    code: str
    message: str
    details: Any = None


class DomainError(Exception):
    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class CardNotFound(NotFound):
    code = "card_not_found"


class AccountNotFound(NotFound):
    code = "account_not_found"


class ReceiptNotFound(NotFound):
    code = "receipt_not_found"


class StoreNotFound(NotFound):
    code = "store_not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class ReceiptConflict(Conflict):
    code = "receipt_conflict"


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"


class InvalidInput(DomainError):
    status_code = 422
    code = "invalid_input"


class ReferralCodeUnknown(InvalidInput):
    code = "referral_code_unknown"


class ReferralRefused(Conflict):
    """A friend's code that cannot count; ``details["reason"]`` says why (self_referral,
    same_account, already_member, already_referred, already_purchased)."""

    code = "referral_refused"


class CardNotActive(DomainError):
    status_code = 422
    code = "card_not_active"


class InsufficientPoints(DomainError):
    status_code = 422
    code = "insufficient_points"


class RedemptionNotAllowed(DomainError):
    status_code = 422
    code = "redemption_over_cap"


class ReturnExceedsReceipt(DomainError):
    status_code = 422
    code = "return_exceeds_receipt"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class TooManyAttempts(DomainError):
    """A sign-in code or activation code was guessed or asked for too often; wait and retry."""

    status_code = 429
    code = "too_many_attempts"


class WrongCode(DomainError):
    """A one-time sign-in code or a plastic card's activation code does not match."""

    status_code = 422
    code = "wrong_code"


class CardAlreadyActivated(Conflict):
    code = "card_already_activated"


def _reply(status: int, body: ErrorReply) -> Response[ErrorReply]:
    return Response(content=body, status_code=status)


def domain_error_handler(_: Request[Any, Any, Any], exc: DomainError) -> Response[ErrorReply]:
    response = _reply(exc.status_code, ErrorReply(exc.code, exc.message, exc.details))
    wait = retry_after(exc)
    if wait is not None:
        response.headers["Retry-After"] = str(wait)
    return response


def retry_after(exc: DomainError) -> int | None:
    """Seconds to wait before retrying, for errors that say (``retry_after_seconds``)."""
    details = exc.details
    if isinstance(details, dict) and isinstance(details.get("retry_after_seconds"), int):
        return int(details["retry_after_seconds"])
    return None


def validation_error_handler(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[ErrorReply]:
    from wallet.inputs import control_character_field
    from wallet.phones import PATTERN as PHONE_PATTERN

    problems = exc.extra if isinstance(exc.extra, list) else []
    for problem in problems:
        if not isinstance(problem, dict):
            continue
        message = str(problem.get("message", ""))
        if PHONE_PATTERN in message or repr(PHONE_PATTERN)[1:-1] in message:
            field = problem.get("key") or "phone"
            # As for a number that parses but is not valid: one answer for a bad phone.
            return _reply(
                422,
                ErrorReply(
                    "invalid_phone",
                    f"{field}: not a valid phone number; write it with the country code, "
                    "e.g. +7 912 345-67-89",
                    {"field": field},
                ),
            )
        rule = control_character_field(str(problem.get("message", "")))
        if rule is not None:
            field = problem.get("key") or "?"
            # A well-formed request with a text we refuse: name the field, not a regex.
            return _reply(
                422,
                ErrorReply(
                    "control_characters",
                    f"{field}: {rule} (no line breaks, tabs or other control characters)",
                    {"field": field, "source": problem.get("source")},
                ),
            )
    return _reply(
        400, ErrorReply("invalid_request", "the request body or parameters are invalid", exc.extra)
    )


def http_error_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ErrorReply]:
    code = {
        401: "unauthorized",
        403: "forbidden",
        404: "not_found",
        405: "method_not_allowed",
        413: "request_too_large",
        429: "too_many_requests",
    }.get(exc.status_code, "http_error")
    if isinstance(exc, NotAuthorizedException):
        code = "unauthorized"
    elif isinstance(exc, PermissionDeniedException):
        code = "forbidden"
    return _reply(exc.status_code, ErrorReply(code, exc.detail, exc.extra or None))


# Seconds a till is asked to wait before retrying the same request when the database is
# away; a PostgreSQL restart takes about that long.
RETRY_AFTER_SECONDS = 3
# ... and when its disk is full: freeing space takes an operator.
STORAGE_RETRY_AFTER_SECONDS = 30


def unexpected_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    from wallet import db

    if db.is_unavailable(exc):
        request.logger.warning(
            "database unavailable on %s %s (%r); answered 503, the client retries",
            request.method,
            request.url.path,
            exc,
        )
        return Response(
            content=ErrorReply(
                "database_unavailable",
                "the database is unavailable for a moment; retry the same request (same "
                "receipt id) shortly: it is applied once",
                {"retry_after_seconds": RETRY_AFTER_SECONDS},
            ),
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    if db.is_storage_full(exc):
        # Not the client's fault and not a moment's: an operator must free space. Said
        # once per request at ERROR, without the stack (the cause is the disk, not code).
        request.logger.error(
            "the database's disk is full on %s %s (%r); answered 503, nothing was written",
            request.method,
            request.url.path,
            exc,
        )
        return Response(
            content=ErrorReply(
                "storage_full",
                "the database has no room to write; nothing was changed. Retry the same "
                "request (same receipt id) later: it is applied once",
                {"retry_after_seconds": STORAGE_RETRY_AFTER_SECONDS},
            ),
            status_code=503,
            headers={"Retry-After": str(STORAGE_RETRY_AFTER_SECONDS)},
        )
    request.logger.exception(
        "unhandled error on %s %s; the write was rolled back", request.method, request.url.path
    )
    return _reply(
        HTTP_500_INTERNAL_SERVER_ERROR,
        ErrorReply("internal_error", "the server failed; nothing was changed, retry later"),
    )


def recursion_error_handler(request: Request[Any, Any, Any], exc: RecursionError) -> Response[Any]:
    # msgspec stops decoding JSON nested past the interpreter's stack with a RecursionError
    # (a 2 KB body of brackets): that is the client's input, not our failure.
    if "deserializ" in str(exc):
        return _reply(
            400,
            ErrorReply(
                "invalid_request",
                "the JSON body is nested too deeply",
                {"source": "body"},
            ),
        )
    return unexpected_error_handler(request, exc)


EXCEPTION_HANDLERS: dict[Any, Any] = {
    RecursionError: recursion_error_handler,
    DomainError: domain_error_handler,
    ValidationException: validation_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
