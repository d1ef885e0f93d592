"""Outbound HTTP through the host, with JSON in and out.

    from hrsync_sdk import http

    people = http.get(f"{base}/people").bearer(token).query(page=2).send().raise_for_status().json()

Only origins the admin granted are reachable; anything else fails with a
`Fatal` error whose message tells the admin how to grant it. Timeouts and
connection failures are `Retryable`. `raise_for_status()` maps an HTTP
error to the typed error it means, as the Rust SDK's `error_for_status`:
401/403 `Unauthorized`, 404/410 `NotFound`, 409 `Conflict`, 400/422
`InvalidInput`, 429 `RateLimited` and 408/5xx `Retryable` (both with the
`Retry-After` seconds), anything else `Fatal`.
"""

from __future__ import annotations

import base64
import json as _json
from typing import Any, List, Optional, Tuple
from urllib.parse import quote, urlencode

from wit_world.imports import http as _wit

from .errors import Conflict, Fatal, InvalidInput, NotFound, PluginError, RateLimited, Retryable, Unauthorized

# How much of an error response's body goes into the error message.
_DETAIL_CHARS = 500


class Response:
    def __init__(self, status: int, headers: List[Tuple[str, str]], body: bytes, request: str = "") -> None:
        self.status = status
        self.headers = headers
        self.body = body
        # `GET https://...` (without the query), for messages.
        self.request = request

    def header(self, name: str) -> Optional[str]:
        wanted = name.lower()
        for key, value in self.headers:
            if key.lower() == wanted:
                return value
        return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; a body that is not JSON is a `Fatal` error
        naming the status and the start of the body."""
        try:
            return _json.loads(self.body)
        except ValueError as error:
            source = f" to {self.request}" if self.request else ""
            raise Fatal(f"the HTTP {self.status} response{source} is not JSON ({error}): {self.text()[:200]}") from None

    def retry_after_ms(self) -> Optional[int]:
        """`Retry-After` in milliseconds (the seconds form)."""
        value = self.header("retry-after")
        if value is None or not value.strip().isdigit():
            return None
        return int(value.strip()) * 1000

    def raise_for_status(self) -> "Response":
        """This response if 2xx, else raises the typed error its status means."""
        if self.ok:
            return self
        raise status_error(self.status, self.text(), self.retry_after_ms())


def status_error(status: int, detail: str, retry_after_ms: Optional[int] = None) -> PluginError:
    """The typed error an HTTP status means, with the body's start as detail;
    also for statuses inside bulk responses."""
    message = f"HTTP {status}: {detail.strip()[:_DETAIL_CHARS]}"
    if status in (401, 403):
        return Unauthorized(message)
    if status in (404, 410):
        return NotFound(message)
    if status == 409:
        return Conflict(message)
    if status in (400, 422):
        return InvalidInput("request", message)
    if status == 429:
        return RateLimited(message, retry_after_ms)
    if status == 408 or 500 <= status <= 599:
        return Retryable(message, retry_after_ms)
    return Fatal(message)


class Request:
    """A request under construction; `send()` sends it."""

    def __init__(self, method: _wit.Method, url: str) -> None:
        self.method = method
        self.url = url
        self.headers: List[Tuple[str, str]] = []
        self.body: Optional[bytes] = None
        self.timeout_ms: Optional[int] = None

    def header(self, name: str, value: str) -> "Request":
        self.headers.append((name, value))
        return self

    def bearer(self, token: str) -> "Request":
        return self.header("authorization", f"Bearer {token}")

    def basic(self, user: str, password: str) -> "Request":
        """HTTP basic authentication (RFC 7617)."""
        credentials = base64.b64encode(f"{user}:{password}".encode()).decode()
        return self.header("authorization", f"Basic {credentials}")

    def query(self, **params: Any) -> "Request":
        """Adds query parameters (percent-encoded; `None` values left out)."""
        pairs = {k: str(v) for k, v in params.items() if v is not None}
        if pairs:
            separator = "&" if "?" in self.url else "?"
            self.url += separator + urlencode(pairs, quote_via=quote)
        return self

    def json(self, body: Any) -> "Request":
        """A JSON body, with `content-type: application/json`."""
        self.body = _json.dumps(body).encode()
        return self.header("content-type", "application/json")

    def data(self, body: bytes, content_type: str) -> "Request":
        self.body = body
        return self.header("content-type", content_type)

    def timeout(self, milliseconds: int) -> "Request":
        """Shorter than the installation's timeout; the host never allows longer."""
        self.timeout_ms = milliseconds
        return self

    def send(self) -> Response:
        """Sends the request. Transport failures raise typed errors (denied →
        `Fatal`, timeout and connection failures → `Retryable`); HTTP error
        statuses are returned: see `Response.raise_for_status`."""
        headers = list(self.headers)
        if not any(k.lower() == "accept" for k, _ in headers):
            headers.append(("accept", "application/json"))
        request = _wit.Request(self.method, self.url, headers, self.body, self.timeout_ms)
        try:
            response = _wit.send(request)
        except Exception as error:  # componentize_py_types.Err(HttpError)
            raise _transport_error(getattr(error, "value", error)) from None
        request_line = f"{self.method.name} {self.url.split('?')[0]}"
        return Response(response.status, response.headers, bytes(response.body), request_line)


def _transport_error(error: object) -> PluginError:
    if isinstance(error, _wit.HttpError_Denied):
        return Fatal(error.value)
    if isinstance(error, (_wit.HttpError_Timeout, _wit.HttpError_Transport)):
        return Retryable(error.value)
    if isinstance(error, _wit.HttpError_TooLarge):
        return Fatal(f"response larger than the host's cap of {error.value} bytes")
    if isinstance(error, _wit.HttpError_InvalidRequest):
        return Fatal(f"invalid request: {error.value}")
    return Fatal(f"HTTP failed: {error}")


def get(url: str) -> Request:
    return Request(_wit.Method.GET, url)


def post(url: str) -> Request:
    return Request(_wit.Method.POST, url)


def put(url: str) -> Request:
    return Request(_wit.Method.PUT, url)


def patch(url: str) -> Request:
    return Request(_wit.Method.PATCH, url)


def delete(url: str) -> Request:
    return Request(_wit.Method.DELETE, url)


__all__ = ["Request", "Response", "status_error", "get", "post", "put", "patch", "delete"]
