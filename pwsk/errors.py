"""The pwsk exception tree, mapped to HTTP only at the edge.

    PwskError                      base; carries an HTTP status and a message for users
    ├── BadRequest                 400  malformed input, validation failures
    ├── Unauthenticated            401  missing or wrong credentials
    ├── Forbidden                  403  authenticated but not entitled
    ├── NotFound                   404  entity or activation absent
    ├── Conflict                   409  exists already, revision clash, wrong collection
    ├── PayloadTooLarge            413  body, parameters or code over a limit
    ├── TooManyRequests            429  a throttle said no
    ├── ServiceUnavailable         503  no invoker, bus or store down
    └── InternalError              500  a bug or an engine failure we could not classify

Every class keeps OpenWhisk's wording (``Messages`` below) so clients that match on text keep
working. The HTTP body is always ``{"error": message, "code": transaction_id}``.
"""

from __future__ import annotations

from typing import Any


class Messages:
    """OpenWhisk's fixed user-facing messages (``ErrorResponse.scala``)."""

    NOT_FOUND = "The requested resource does not exist."
    NOT_AUTHORIZED = "The supplied authentication is not authorized to access this resource."
    AUTH_INVALID = "The supplied authentication is invalid"
    AUTH_MISSING = "The resource requires authentication, which was not supplied with the request"
    EXISTS = "resource already exists"
    CONCURRENT_MODIFICATION = "Concurrent modification to resource detected."
    WRONG_COLLECTION = "Resource by this name exists but is not in this collection."
    OVERLOADED = (
        "The server is currently unavailable (because it is overloaded or down for maintenance)."
    )
    BINDING_NOT_PERMITTED = "Operation not permitted on package binding."
    DEFAULT_PACKAGE_RESERVED = "Package name 'default' is reserved."
    BIND_TO_BINDING = "Cannot bind to another package binding."
    BINDING_MISSING = "Binding references a package that does not exist."
    PACKAGE_TO_BINDING = "Resource is a package and cannot be converted into a binding."
    PARAMS_NOT_ALLOWED = (
        "Request defines parameters that are not allowed (e.g., reserved properties)."
    )
    TIMEOUT_RANGE = "Timeout must be number of milliseconds up to {max}."
    SEQ_EMPTY = "No component specified for the sequence."
    SEQ_TOO_LONG = "Too many actions in the sequence."
    SEQ_CYCLE = "Sequence may not refer to itself."
    SEQ_COMPONENT_MISSING = "Sequence component does not exist."
    SEQ_COMPONENT_TIMEOUT = (
        "Timeout reached when retrieving activation {id} for sequence component."
    )
    RULE_NEEDS_TRIGGER = "Only rules with existing triggers can be activated"
    TOO_MANY_PER_MINUTE = (
        "Too many requests in the last minute (count: {count}, allowed: {allowed})."
    )
    TOO_MANY_CONCURRENT = (
        "Too many concurrent requests in flight (count: {count}, allowed: {allowed})."
    )
    # activation results
    TIMEOUT = "The action exceeded its time limits of {ms} milliseconds."
    TIMEOUT_INIT = "The action exceeded its time limits of {ms} milliseconds during initialization."
    NOT_JSON = "The action did not produce a valid JSON or JSON Array response: {body}"
    INIT_FAILED = "The action failed during initialization: {body}"
    INIT_EXITED = "The action did not initialize and exited unexpectedly."
    RUN_EXITED = "The action did not produce a valid response and exited unexpectedly."
    OOM = "The action exhausted its memory and was aborted."
    TRUNCATED = (
        "The action produced a response that exceeded the allowed length: {size} > {limit} "
        "bytes. The truncated response was: {truncated}"
    )
    ACTION_GONE = "Action could not be found or may have been deleted."
    LOGS_TRUNCATED = (
        "Logs were truncated because the total bytes size exceeds the limit of {n} bytes."
    )
    DEV_ERROR_LOG = "The action did not initialize or run as expected. Log data might be missing."


class PwskError(Exception):
    """Base of every error pwsk raises on purpose; ``status`` is the HTTP status at the edge."""

    status: int = 500
    default_message: str = "Internal server error"

    def __init__(self, message: str | None = None, **context: Any) -> None:
        self.message = message or self.default_message
        self.context = context
        super().__init__(self.message)


class BadRequest(PwskError):
    status = 400
    default_message = "Bad Request"


class Unauthenticated(PwskError):
    status = 401
    default_message = Messages.AUTH_INVALID
    missing = Messages.AUTH_MISSING


class Forbidden(PwskError):
    status = 403
    default_message = Messages.NOT_AUTHORIZED


class NotFound(PwskError):
    status = 404
    default_message = Messages.NOT_FOUND


class MethodNotAllowed(PwskError):
    status = 405
    default_message = "HTTP method not allowed, supported methods: GET, PUT, POST, DELETE"


class Conflict(PwskError):
    status = 409
    default_message = Messages.EXISTS


class PayloadTooLarge(PwskError):
    status = 413
    default_message = "The request content was malformed: request entity too large"


class TooManyRequests(PwskError):
    status = 429
    default_message = "Too Many Requests"


class ServiceUnavailable(PwskError):
    status = 503
    default_message = Messages.OVERLOADED


class InternalError(PwskError):
    status = 500
    default_message = "Internal server error"
