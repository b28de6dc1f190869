"""MEGA's error envelope ``{"error": {"type", "code", "message"}}`` on every error answer."""

from __future__ import annotations

from ..httpserver import Response

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "authorization_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "api_error",
    411: "invalid_request_error",
    413: "invalid_request_error",
    414: "invalid_request_error",
    431: "invalid_request_error",
    429: "rate_limit_error",
}


def error_type(status: int) -> str:
    """The documented ``type`` for a status; every 5xx (and anything unlisted) is api_error."""
    return ERROR_TYPES.get(status, "api_error")


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = {"error": {"type": error_type(status), "code": status, "message": message}}
    return Response(status, body, dict(headers or {}))


class ApiError(Exception):
    """Raised inside the sandbox to answer with the envelope."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.message, self.headers = status, message, dict(headers or {})

    def response(self) -> Response:
        return error_response(self.status, self.message, self.headers)
