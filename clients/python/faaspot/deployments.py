"""faaspot.deployments: create (or update), list, show, list versions of, roll back, delete and run
deployments."""

import collections.abc
import numbers
import os
import urllib.parse

from . import errors
from .executions import RUN_WAIT_TIMEOUT, outcome
from .transport import segment

_PATH_TYPES = (str, bytes, os.PathLike)

# The header that makes a run idempotent, and the longest key the server accepts.
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
MAX_IDEMPOTENCY_KEY = 255

# The header that names the URL a run's record is posted to once the run has ended.
CALLBACK_URL_HEADER = "X-Faaspot-Callback-Url"

# The longest first wait of a retry policy the API accepts, in seconds (its backoff_s bound). The
# operator's cap on max_attempts (10 by default) is the server's to check.
MAX_RETRY_BACKOFF_S = 3600


class Deployments(object):
    """The tenant's deployments: a function's code, its requirements and its secret context."""

    def __init__(self, transport, executions):
        self._transport = transport
        self._executions = executions

    def __call__(self):
        return self

    def create(self, name, file=None, requirements_file=None, context_file=None, wait=False,
               code=None, requirements=None, context=None, limits=None, retry=None, callback_url=None):
        """Creates the deployment name, or updates it to a new version, and returns its record.
        A request identical to the newest version (not failed) changes nothing: the record as it is.

        The function comes from file (a path to a Python script defining main(args, context)) or
        code (its text); the pip requirements from requirements_file or requirements (text); the
        context from context_file (context-file text, key = "value" lines) or context (that text
        or a dict). limits is a dict of memory_mb, cpus and timeout_s. Files are read as UTF-8.

        retry is the version's retry policy, a dict {"max_attempts": N, "backoff_s": S}: a queued
        run (not one with wait=True) that fails or times out runs again, up to N runs in all (an
        int, 1 for no retry, at most the operator's cap: 10 by default), waiting S seconds (an int
        or a float from 0 to 3600; 0, retry at once, when left out) before the first retry and
        twice as long before each next one; one that fails its last attempt ends among
        executions.dead_letters(). None (the default) gives the version no retry policy, on an
        update too. TypeError or ValueError for another value (nothing is sent); BadRequest
        (field "retry.max_attempts") for N over the operator's cap.

        callback_url (an http:// or https:// URL) receives the record of each queued run of the
        deployment (not one with wait=True, nor one that names its own) once the run has ended: a
        POST signed with the tenant's webhook secret (see Faaspot.webhook_secret() and
        verify_signature). Like retry, it belongs to the version: an update without it has none.
        TypeError or ValueError for a value that is not such a URL (nothing is sent); BadRequest
        (field "callback_url") for one the server does not accept, e.g. inside its own network.

        With wait=True it returns once the image is built (status "ready") and raises
        BuildFailed when the build failed; without, it returns at once with status "building".
        """
        code = _one_of("code", code, "file", file)
        requirements = _one_of("requirements", requirements, "requirements_file", requirements_file)
        context = _one_of("context", context, "context_file", context_file)
        if code is None:
            raise ValueError("create needs file= (the path of the function's script) or code= (its text)")
        if context is not None and not isinstance(context, (str, dict)):
            raise TypeError("context must be context-file text or a dict, not %s" % type(context).__name__)
        body = {"name": name, "code": code, "requirements": requirements or "", "context": context}
        if limits is not None:
            body["limits"] = dict(limits)
        if retry is not None:
            body["retry"] = _retry_policy(retry)
        if callback_url is not None:
            body["callback_url"] = _callback_url(callback_url)
        return self._transport.request("POST", "/v1/deployments", body=body,
                                       query={"wait": "true"} if wait else None).json()

    def list(self):
        """The tenant's deployments."""
        return self._transport.request("GET", "/v1/deployments").json()

    def get(self, name):
        """One deployment: status (building, ready or failed), version, ready_version, error,
        build_log, limits, retry (its retry policy, when it has one) and context_keys (never the
        context's values)."""
        return self._transport.request("GET", "/v1/deployments/" + segment(name)).json()

    def versions(self, name):
        """The deployment's kept versions, newest first: each a dict of version, status
        (building, ready or failed), error, ready (True on the version runs use), hash, limits,
        context_keys (never the context's values), created_at and finished_at. Raises NotFound
        for a deployment the tenant does not have."""
        return self._transport.request("GET", "/v1/deployments/%s/versions" % segment(name)).json()

    def rollback(self, name, version):
        """Makes version (an int, 1 or more) of the deployment the one that runs (its
        ready_version) and returns the deployment's record. The version must be one of those
        versions(name) lists as ready. Raises TypeError or ValueError for a version that is not
        a positive int (nothing is sent), NotFound for a deployment the tenant does not have or a
        version not kept (field "version"), Conflict (code "not_ready") for a version that is
        building or failed to build."""
        body = {"version": _version(version)}
        return self._transport.request("POST", "/v1/deployments/%s/rollback" % segment(name), body=body).json()

    def delete(self, name):
        """Deletes the deployment and its images."""
        self._transport.request("DELETE", "/v1/deployments/" + segment(name))

    def run(self, name, params=None, wait=False, timeout=RUN_WAIT_TIMEOUT, version=None, idempotency_key=None,
            callback_url=None):
        """Runs the deployment with params (a dict; they reach main as args, JSON-typed).

        With wait=True it returns the function's return value, or raises ExecutionFailed
        (ExecutionTimeout for a run over its time limit) with the error's type, message and
        traceback. When the run outlasts the server's sync wait, it polls the execution record,
        for timeout seconds at most. Without wait it returns the execution id at once; see
        executions.get(id) and executions.wait(id).

        version (an int, 1 or more) runs that version rather than the current one (the
        ready_version); TypeError or ValueError for another value (nothing is sent). NotFound for
        a version not kept, Conflict for one that is building or failed to build.

        idempotency_key (a str of 1 to 255 printable ASCII characters without spaces) is sent as
        the Idempotency-Key header: a run with the same key, for the same deployment, within 24
        hours (the server's default) gives the same execution -- its id, or with wait=True its
        outcome -- and the function runs once, so a run can be retried safely. TypeError or
        ValueError for another value (nothing is sent).

        callback_url (an http:// or https:// URL) is sent as the X-Faaspot-Callback-Url header:
        once the run has ended, the server POSTs its record there, signed with the tenant's
        webhook secret (see Faaspot.webhook_secret() and verify_signature), and shows the
        delivery in the record's "callback"; it is used instead of the deployment's callback_url.
        TypeError or ValueError for a value that is not such a URL (nothing is sent); BadRequest
        (field X-Faaspot-Callback-Url) for one the server does not accept.
        """
        headers = {}
        if idempotency_key is not None:
            headers[IDEMPOTENCY_KEY_HEADER] = _idempotency_key(idempotency_key)
        if callback_url is not None:
            headers[CALLBACK_URL_HEADER] = _callback_url(callback_url)
        if params is None:
            params = {}
        elif not isinstance(params, dict):
            try:
                params = dict(params)
            except (TypeError, ValueError):
                raise TypeError("params must be a dict of arguments, not %s" % type(params).__name__) from None
        route = "deployments/%s/" % segment(name)
        if version is not None:
            route += "versions/%s/" % segment(str(_version(version)), "version")
        route += "rpc/"
        if not wait:
            return self._transport.request("POST", "/v1/" + route, body=params, headers=headers).json()
        answer = self._transport.request("POST", "/v1/sync/" + route, body=params, headers=headers,
                                         answer_statuses=(500, 504))
        if answer.status in (500, 504):
            body = errors.decode(answer.data)
            if not errors.is_run_error(body):
                raise errors.from_answer(answer.status, answer.data)
            raise errors.execution_failed(body.get("error"), body.get("execution_id"), body.get("status"),
                                          http_status=answer.status, body=body)
        body = answer.json()
        if answer.status == 202:
            # The run outlasted the server's sync wait: wait for its record.
            execution_id = (body or {}).get("execution_id") or answer.headers.get("X-Faaspot-Execution-Id")
            if not execution_id:
                raise errors.FaaspotError("the server answered 202 without an execution id", status=202, body=body)
            return outcome(self._executions.wait(execution_id, timeout=timeout))
        return body


def _version(version):
    """version, checked to be a version number: an int (not a bool), 1 or more."""
    if isinstance(version, bool) or not isinstance(version, int):
        raise TypeError("version must be an int, 1 or more, not %s" % type(version).__name__)
    if version < 1:
        raise ValueError("version must be 1 or more, not %d" % version)
    return version


def _retry_policy(retry):
    """retry, checked to be a retry policy the API accepts, as it is sent: max_attempts an int, 1
    or more, and backoff_s a number of seconds from 0 to MAX_RETRY_BACKOFF_S (0 when left out)."""
    if not isinstance(retry, collections.abc.Mapping):
        raise TypeError('retry must be a dict {"max_attempts": N, "backoff_s": S}, not %s' % type(retry).__name__)
    unknown = [k for k in retry if k not in ("max_attempts", "backoff_s")]
    if unknown:
        raise ValueError("retry takes max_attempts and backoff_s only, not %s" % ", ".join(repr(k) for k in unknown))
    if "max_attempts" not in retry:
        raise ValueError("retry needs max_attempts: how many runs in all, 1 (no retry) or more")
    attempts = retry["max_attempts"]
    if isinstance(attempts, bool) or not isinstance(attempts, numbers.Integral):
        raise TypeError("retry max_attempts must be an int, 1 or more, not %s" % type(attempts).__name__)
    if attempts < 1:
        raise ValueError("retry max_attempts must be 1 (no retry) or more, not %d" % attempts)
    backoff = retry.get("backoff_s", 0)
    if isinstance(backoff, bool) or not isinstance(backoff, numbers.Real):
        raise TypeError("retry backoff_s must be a number of seconds, not %s" % type(backoff).__name__)
    if not 0 <= backoff <= MAX_RETRY_BACKOFF_S:  # NaN fails too
        raise ValueError("retry backoff_s must be from 0 to %d seconds, not %r" % (MAX_RETRY_BACKOFF_S, backoff))
    backoff = int(backoff) if isinstance(backoff, numbers.Integral) else float(backoff) + 0.0  # -0.0 becomes 0.0
    return {"max_attempts": int(attempts), "backoff_s": backoff}


def _idempotency_key(key):
    """key, checked to be an idempotency key the server accepts: a str of 1 to 255 printable
    ASCII characters (no spaces, no control characters)."""
    if not isinstance(key, str):
        raise TypeError("idempotency_key must be a str, not %s" % type(key).__name__)
    rule = "idempotency_key must be 1 to %d printable ASCII characters without spaces" % MAX_IDEMPOTENCY_KEY
    if not key:
        raise ValueError(rule + ", not an empty string")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise ValueError("%s, not %d characters" % (rule, len(key)))
    for i, c in enumerate(key):
        if not "!" <= c <= "~":
            raise ValueError("%s: %r at index %d" % (rule, c, i))
    return key


def _callback_url(url):
    """url, checked to be a callback URL as it is sent: an absolute http or https URL with a host,
    in printable ASCII without spaces (percent-encode the rest). The server checks the rest."""
    if not isinstance(url, str):
        raise TypeError("callback_url must be a str, not %s" % type(url).__name__)
    rule = "callback_url must be an http:// or https:// URL with a host"
    bad = [c for c in url if not "!" <= c <= "~"]
    if bad:
        raise ValueError("%s, in printable ASCII without spaces: %r in %r" % (rule, bad[0], url))
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
    except ValueError:
        host = None
    if host is None or parts.scheme.lower() not in ("http", "https"):
        raise ValueError("%s, not %r" % (rule, url))
    return url


def _one_of(text_name, text, path_name, path):
    """The text given directly or read from the file at path (UTF-8); not both."""
    if text is not None and path is not None:
        raise ValueError("give %s= or %s=, not both" % (text_name, path_name))
    if path is None:
        return text
    if not isinstance(path, _PATH_TYPES):
        raise TypeError("%s must be a path, not %s" % (path_name, type(path).__name__))
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError("%s %s is not UTF-8 text: %s" % (path_name, os.fsdecode(path), e)) from None
