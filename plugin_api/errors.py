"""Errors the HTTP API reports, and how each becomes a JSON response.

    ApiError                  {"error": {"code", "message"}} with `status`
    ├── BadRequest            400  the body is not JSON
    ├── Unauthorized          401  missing or wrong bearer token (+ WWW-Authenticate)
    ├── Forbidden             403  a valid token without the scope the route needs
    ├── NotFound              404  no such note or route
    ├── MethodNotAllowed      405
    ├── PayloadTooLarge       413  request body over the limit
    ├── Unprocessable         422  JSON that does not match the spec
    ├── TooManyRequests       429  rate limit or lockout (+ Retry-After)
    │   ├── RateLimited       too many requests from one client
    │   └── LockedOut         too many wrong tokens from one client
    └── ServiceUnavailable    503  the index cannot answer right now

Every message says what to do next. No response ever carries a traceback.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("notewell.api")


class ApiError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class BadRequest(ApiError):
    status, code = 400, "bad_request"


class Unauthorized(ApiError):
    status, code = 401, "unauthorized"

    def __init__(self, message: str, challenge: str = 'Bearer realm="notewell"') -> None:
        super().__init__(message, {"WWW-Authenticate": challenge})


class Forbidden(ApiError):
    status, code = 403, "forbidden"

    def __init__(self, message: str, challenge: str | None = None) -> None:
        super().__init__(message, {"WWW-Authenticate": challenge} if challenge else None)


class NotFound(ApiError):
    status, code = 404, "not_found"


class MethodNotAllowed(ApiError):
    status, code = 405, "method_not_allowed"


class Conflict(ApiError):
    status, code = 409, "conflict"


class PayloadTooLarge(ApiError):
    status, code = 413, "payload_too_large"


class Unprocessable(ApiError):
    status, code = 422, "invalid_request"


class TooManyRequests(ApiError):
    status, code = 429, "too_many_requests"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, {"Retry-After": str(max(1, retry_after))})
        self.retry_after = max(1, retry_after)


class RateLimited(TooManyRequests):
    code = "rate_limited"


class LockedOut(TooManyRequests):
    code = "locked_out"


class ServiceUnavailable(ApiError):
    status, code = 503, "unavailable"


def error_response(error: ApiError) -> JSONResponse:
    body = {"error": {"code": error.code, "message": error.message}}
    return JSONResponse(body, status_code=error.status, headers=error.headers)


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    request.state.outcome = exc.code  # for the activity log
    return error_response(exc)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    # Starlette raises these for unknown routes (404) and wrong methods (405).
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        error: ApiError = MethodNotAllowed(
            f"{request.method} is not supported on {request.url.path}; see /openapi.json."
        )
        error.headers.update(exc.headers or {})
    elif exc.status_code == 404:
        error = NotFound(f"There is no {request.url.path}; the API is described at /openapi.json.")
    else:
        error = ApiError(exc.detail)
        error.status = exc.status_code
    request.state.outcome = error.code
    return error_response(error)


async def unexpected_error_handler(request: Request, exc: Exception) -> Response:
    log.error("Unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    request.state.outcome = "internal_error"
    return error_response(
        ApiError("Notewell hit an unexpected error; the details are in its log. Try again.")
    )


EXCEPTION_HANDLERS = {
    ApiError: api_error_handler,
    HTTPException: http_error_handler,
    Exception: unexpected_error_handler,
}
