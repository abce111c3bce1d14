"""The exceptions of the faaspot client and the mapping of API error answers onto them.

Every exception is a FaaspotError. API errors are JSON answers of the form
{"error": {"code": ..., "message": ..., "field": ...}}; a failed run answers
{"error": {"type", "message", "traceback"}, "execution_id", "status"} instead.
"""

import json


class FaaspotError(Exception):
    """Base of every faaspot error.

    status is the HTTP status of the answer (None when there was no answer), code the API's
    stable error code (e.g. "not_found", "invalid_argument"), message the human-readable text
    and field the request field at fault, when the API names one. body is the decoded answer.
    """

    def __init__(self, message, status=None, code=None, field=None, body=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.http_status = status
        self.code = code
        self.field = field
        self.body = body

    def __str__(self):
        if self.http_status is None:
            return self.message
        if self.field:
            return "%s (field %s, HTTP %d)" % (self.message, self.field, self.http_status)
        return "%s (HTTP %d)" % (self.message, self.http_status)


class BadRequest(FaaspotError):
    """HTTP 400: the request was refused as invalid; field names the part at fault."""


class Unauthorized(FaaspotError):
    """HTTP 401: the token is missing or unknown."""


class NotFound(FaaspotError):
    """HTTP 404: no such deployment, execution or route."""


class Conflict(FaaspotError):
    """HTTP 409: e.g. a run of a deployment that is still building or failed to build."""


class BuildFailed(FaaspotError):
    """A deployment's build failed (HTTP 422 on create with wait=True).

    message is the reason; deployment is the deployment record (with its build log).
    """

    def __init__(self, message, status=None, code=None, field=None, body=None, deployment=None):
        super().__init__(message, status=status, code=code, field=field, body=body)
        self.deployment = deployment if deployment is not None else {}

    def __str__(self):
        name = self.deployment.get("name") if isinstance(self.deployment, dict) else None
        if name:
            return "deployment %r failed to build: %s" % (name, self.message)
        return "the build failed: %s" % self.message


class ExecutionFailed(FaaspotError):
    """A run ended failed (an exception, a crash, out of memory...) or timed out.

    type, message and traceback describe the error as the function's runner reported it;
    execution_id names the execution record; status is the execution's status ("failed" or
    "timeout"), while http_status is the HTTP status of the answer (None when the outcome was
    read from a polled execution record).
    """

    def __init__(self, message, type=None, traceback=None, execution_id=None, status=None,
                 http_status=None, body=None):
        super().__init__(message, status=http_status, code="execution_" + (status or "failed"), body=body)
        self.type = type
        self.traceback = traceback
        self.execution_id = execution_id
        self.status = status

    def __str__(self):
        return "execution %s %s: %s: %s" % (self.execution_id, self.status, self.type, self.message)


class ExecutionTimeout(ExecutionFailed):
    """A run that outlasted its deployment's timeout (execution status "timeout", HTTP 504)."""


class SignatureError(FaaspotError):
    """A callback whose X-Faaspot-Signature header does not verify (see verify_signature): the
    header is missing or malformed, its time is outside the tolerance, or no v1 signature in it
    matches the body. The message says which."""


class Unreachable(FaaspotError, ConnectionError):
    """The server could not be reached or did not answer; the message names its URL."""


class WaitTimeout(FaaspotError, TimeoutError):
    """executions.wait gave up before the execution ended; record is its last state."""

    def __init__(self, message, record=None):
        super().__init__(message)
        self.record = record


_BY_STATUS = {400: BadRequest, 401: Unauthorized, 404: NotFound, 409: Conflict}

_REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 413: "Request Entity Too Large",
            422: "Unprocessable Entity", 500: "Internal Server Error", 502: "Bad Gateway",
            503: "Service Unavailable", 504: "Gateway Timeout"}


def decode(data):
    """data decoded as JSON, or None when it is not JSON."""
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None


def execution_failed(error, execution_id, status, http_status=None, body=None):
    """The ExecutionFailed (or ExecutionTimeout) for a run's error object and status."""
    error = error if isinstance(error, dict) else {}
    cls = ExecutionTimeout if status == "timeout" else ExecutionFailed
    return cls(error.get("message") or "the run ended %s" % (status or "failed"),
               type=error.get("type"), traceback=error.get("traceback"),
               execution_id=execution_id, status=status, http_status=http_status, body=body)


def is_run_error(body):
    """Whether an error answer describes a failed run rather than a refused request: it names an
    execution, and its error object (if any) has no code, as request errors do."""
    if not isinstance(body, dict) or "execution_id" not in body:
        return False
    err = body.get("error")
    return err is None or (isinstance(err, dict) and "code" not in err)


def from_answer(status, data):
    """The exception for an error answer with HTTP status and raw body data."""
    body = decode(data)
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        code, message, field = err.get("code"), err.get("message"), err.get("field")
    else:
        code, message, field = None, None, None
    if not message:
        message = data.decode("utf-8", "replace").strip() or _REASONS.get(status, "HTTP error")
    if status == 422 and code == "build_failed":
        return BuildFailed(message, status=status, code=code, field=field, body=body,
                           deployment=body.get("deployment"))
    cls = _BY_STATUS.get(status, FaaspotError)
    return cls(message, status=status, code=code, field=field, body=body)
