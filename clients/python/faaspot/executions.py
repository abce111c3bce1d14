"""faaspot.executions: execution records, their output, waiting for a run to end, the dead letters
and running a failed run again."""

import http.client
import json
import numbers
import socket
import time
import urllib.error
import urllib.request

from . import errors
from .transport import segment

TERMINAL = ("completed", "failed", "timeout")

# How long a run(wait=True) polls after the server's own sync wait expired (as the Go client).
RUN_WAIT_TIMEOUT = 3600.0

# The largest page of dead letters the API serves (its ?limit bound).
MAX_DEAD_LETTERS = 1000


class Executions(object):
    """The tenant's execution records. Calling the object returns it, so the FaaSpot docs'
    faaspot.executions().get(execution_id) works as well as faaspot.executions.get(...)."""

    def __init__(self, transport, sleep=time.sleep, clock=time.monotonic):
        self._transport = transport
        self._sleep = sleep
        self._clock = clock

    def __call__(self):
        return self

    def get(self, execution_id):
        """The execution record: id, deployment, version, status (queued, running, completed,
        failed or timeout), attempts (how many times it started: more than 1 when its
        deployment's retry policy ran it again; a run waiting for its next attempt is queued, with
        the last error), args, result, error {type, message, traceback}, stdout, stderr,
        timestamps and durations."""
        return self._transport.request("GET", "/v1/executions/" + segment(execution_id, "execution id")).json()

    def list(self, deployment=None, limit=None):
        """Recent executions, newest first; of one deployment when deployment is given; at most
        limit of them (the server's default is 50, its maximum 1000)."""
        query = {}
        if deployment:
            query["deployment"] = deployment
        if limit is not None:
            query["limit"] = int(limit)
        return self._transport.request("GET", "/v1/executions", query=query).json()

    def dead_letters(self, limit=None):
        """The dead letters, newest first: the summaries (dicts of id, deployment, version,
        status, created_at, started_at, finished_at, duration_ms, cold_start and error_type) of
        the queued runs of deployments with a retry policy (max_attempts 2 or more) that failed or
        timed out on their last attempt and were not retried since (see retry). limit is how many at most, an int from 1
        to 1000; None leaves it to the server (100). TypeError or ValueError for another limit
        (nothing is sent).

            for dead in faaspot.executions.dead_letters():
                faaspot.executions.retry(dead["id"])
        """
        query = None
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, numbers.Integral):
                raise TypeError("limit must be an int from 1 to %d, not %s" % (MAX_DEAD_LETTERS, type(limit).__name__))
            if not 1 <= limit <= MAX_DEAD_LETTERS:
                raise ValueError("limit must be from 1 to %d, not %d" % (MAX_DEAD_LETTERS, limit))
            query = {"limit": int(limit)}
        return self._transport.request("GET", "/v1/dead-letters", query=query).json()

    def retry(self, execution_id):
        """Runs the failed or timed-out execution again and returns the new execution's id: a
        new run, queued, of the deployment's current version with the same arguments (the
        deployment's retry policy applies to it). The old record is kept as it is and taken off
        the dead letters. Raises NotFound for an unknown execution (or a deployment deleted
        since), Conflict (code "not_ready") for an execution that did not fail or time out
        (queued, running or completed) or a deployment whose build failed, FaaspotError with
        status 429 when the tenant's queued-runs quota is full."""
        path = "/v1/executions/%s/retry" % segment(execution_id, "execution id")
        return self._transport.request("POST", path).json()

    def logs(self, execution_id, follow=False):
        """The run's output, as a generator of the lines of GET /v1/executions/{id}/logs: pieces
        {"stream": "stdout" or "stderr", "data": text}, in order within each stream, then one
        last line {"status", "stdout_truncated", "stderr_truncated"}. Without follow: the output
        so far (the record's once the run ended). With follow: each piece as the run prints it,
        the last line once the run ends (a status that is not terminal says that the server
        ended the follow first). The request is sent when iteration begins; NotFound for an
        unknown id, Unreachable when the server cannot be reached, FaaspotError for an answer
        cut short.

            for line in faaspot.executions.logs(execution_id, follow=True):
                print(line.get("data", ""), end="")
        """
        path = "/v1/executions/" + segment(execution_id, "execution id") + "/logs"
        if follow:
            path += "?follow=true"
        return _log_lines(self._transport, path)

    def wait(self, execution_id, timeout=RUN_WAIT_TIMEOUT):
        """Polls the record (every 20 ms, doubling up to 1 s) until the execution has ended and
        returns it, whatever its outcome. timeout is in seconds (None waits forever); when it
        passes first, WaitTimeout is raised with the last record."""
        deadline = None if timeout is None else self._clock() + timeout
        delay = 0.02
        while True:
            record = self.get(execution_id)
            if record.get("status") in TERMINAL:
                return record
            if deadline is not None and self._clock() >= deadline:
                raise errors.WaitTimeout("execution %s still %s after %gs" % (
                    execution_id, record.get("status"), timeout), record=record)
            self._sleep(delay)
            delay = min(delay * 2, 1.0)


def outcome(record):
    """The function's return value of a terminal record; ExecutionFailed (or ExecutionTimeout)
    when the run failed or timed out."""
    if record.get("status") == "completed":
        return record.get("result")
    raise errors.execution_failed(record.get("error"), record.get("id"), record.get("status"),
                                  body=record)


def _log_lines(transport, path):
    """The NDJSON lines of a logs answer, each as it arrives, up to the last one."""
    headers = {"Authorization": "Token " + transport.token, "Accept": "application/x-ndjson",
               "User-Agent": transport.user_agent}
    req = urllib.request.Request(transport.url + path, headers=headers, method="GET")
    try:
        # The transport's opener: its redirects stay within the faaspot URL's origin.
        resp = transport._opener.open(req, timeout=transport.timeout)
    except urllib.error.HTTPError as e:
        try:
            payload = e.read()
        except (OSError, http.client.HTTPException):
            payload = b""
        finally:
            e.close()
        raise errors.from_answer(e.code, payload)
    except urllib.error.URLError as e:
        raise transport._unreachable(e.reason)
    except (OSError, http.client.HTTPException) as e:
        raise transport._unreachable(e)
    with resp:
        try:
            for raw in resp:
                line = json.loads(raw.decode("utf-8"))
                yield line
                if "status" in line:
                    return
        except socket.timeout:
            raise errors.Unreachable("no answer from faaspot at %s within %gs" % (transport.url, transport.timeout))
        except (OSError, http.client.HTTPException, ValueError) as e:
            raise errors.FaaspotError("the logs answer was cut short: %s" % e)
    raise errors.FaaspotError("the logs answer ended before its last line")
