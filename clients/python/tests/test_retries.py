"""Retries: deployments.create(..., retry=...), executions.dead_letters() and executions.retry()."""

import fractions
import unittest

from faaspot.errors import BadRequest, Conflict, FaaspotError, NotFound

from .fakeapi import APITestCase

SUMMARIES = [
    {"id": "e2", "deployment": "flaky", "version": 3, "status": "timeout", "created_at": "2025-03-01T12:00:00Z",
     "started_at": "2025-03-01T12:00:01Z", "finished_at": "2025-03-01T12:00:31Z", "duration_ms": 30000.0,
     "cold_start": False, "error_type": "Timeout"},
    {"id": "e1", "deployment": "flaky", "version": 3, "status": "failed", "created_at": "2025-03-01T11:00:00Z",
     "started_at": "2025-03-01T11:00:01Z", "finished_at": "2025-03-01T11:00:02Z", "duration_ms": 12.5,
     "cold_start": True, "error_type": "ValueError"},
]

DEPLOYMENT = {"name": "flaky", "version": 1, "status": "building", "ready_version": 0,
              "retry": {"max_attempts": 3, "backoff_s": 1.5}}


class CreateRetryTest(APITestCase):

    def create(self, retry):
        self.api.requests.clear()
        self.api.reply(202, DEPLOYMENT)
        got = self.fs.deployments.create("flaky", code="def main(args, context):\n    return 1\n", retry=retry)
        self.assertEqual(got, DEPLOYMENT)
        return self.only_request().json()

    def test_sent_as_given(self):
        cases = [
            ({"max_attempts": 3, "backoff_s": 1.5}, {"max_attempts": 3, "backoff_s": 1.5}),
            ({"max_attempts": 5, "backoff_s": 30}, {"max_attempts": 5, "backoff_s": 30}),
            ({"max_attempts": 1}, {"max_attempts": 1, "backoff_s": 0}),
            ({"max_attempts": 2, "backoff_s": 3600}, {"max_attempts": 2, "backoff_s": 3600}),
            ({"max_attempts": 2, "backoff_s": -0.0}, {"max_attempts": 2, "backoff_s": 0.0}),
            ({"max_attempts": 2, "backoff_s": fractions.Fraction(1, 4)}, {"max_attempts": 2, "backoff_s": 0.25}),
            ({"max_attempts": 100}, {"max_attempts": 100, "backoff_s": 0}),  # the cap is the server's
        ]
        for retry, sent in cases:
            with self.subTest(retry=retry):
                body = self.create(retry)
                self.assertEqual(body["retry"], sent)
                self.assertEqual(repr(body["retry"]["backoff_s"]), repr(sent["backoff_s"]))

    def test_none_sends_no_policy(self):
        self.assertNotIn("retry", self.create(None))

    def test_refused_before_sending(self):
        cases = [
            ([3, 1.5], TypeError, "retry must be a dict"),
            ("max_attempts=3", TypeError, "not str"),
            ({}, ValueError, "retry needs max_attempts"),
            ({"backoff_s": 1}, ValueError, "retry needs max_attempts"),
            ({"max_attempts": 3, "backoff": 1}, ValueError, "not 'backoff'"),
            ({"max_attempts": 3, "backoff_s": 1, "jitter": True}, ValueError, "not 'jitter'"),
            ({"max_attempts": 0}, ValueError, "max_attempts must be 1 (no retry) or more, not 0"),
            ({"max_attempts": -2}, ValueError, "not -2"),
            ({"max_attempts": 2.0}, TypeError, "max_attempts must be an int"),
            ({"max_attempts": "3"}, TypeError, "not str"),
            ({"max_attempts": True}, TypeError, "not bool"),
            ({"max_attempts": None}, TypeError, "not NoneType"),
            ({"max_attempts": 3, "backoff_s": -1}, ValueError, "backoff_s must be from 0 to 3600 seconds, not -1"),
            ({"max_attempts": 3, "backoff_s": 3600.5}, ValueError, "not 3600.5"),
            ({"max_attempts": 3, "backoff_s": 10 ** 400}, ValueError, "backoff_s must be from 0 to 3600"),
            ({"max_attempts": 3, "backoff_s": float("nan")}, ValueError, "not nan"),
            ({"max_attempts": 3, "backoff_s": float("inf")}, ValueError, "not inf"),
            ({"max_attempts": 3, "backoff_s": "30s"}, TypeError, "backoff_s must be a number of seconds, not str"),
            ({"max_attempts": 3, "backoff_s": False}, TypeError, "not bool"),
            ({"max_attempts": 3, "backoff_s": None}, TypeError, "not NoneType"),
        ]
        for retry, cls, detail in cases:
            with self.subTest(retry=retry):
                with self.assertRaises(cls) as cm:
                    self.fs.deployments.create("flaky", code="x", retry=retry)
                self.assertIn("retry", str(cm.exception))
                self.assertIn(detail, str(cm.exception))
        self.assertEqual(self.api.requests, [])

    def test_server_refusal(self):
        self.api.reply(400, {"error": {"code": "invalid_argument", "field": "retry.max_attempts",
                                       "message": "max_attempts must be between 1 (no retry) and 10 (the operator's cap)"}})
        with self.assertRaises(BadRequest) as cm:
            self.fs.deployments.create("flaky", code="x", retry={"max_attempts": 11})
        self.assertEqual(cm.exception.field, "retry.max_attempts")


class DeadLettersTest(APITestCase):

    def test_server_default(self):
        self.api.reply(200, SUMMARIES)
        self.assertEqual(self.fs.executions.dead_letters(), SUMMARIES)
        self.assertRequest(self.only_request(), "GET", "/v1/dead-letters")

    def test_limit(self):
        for limit in (1, 50, 1000):
            with self.subTest(limit=limit):
                self.api.requests.clear()
                self.api.reply(200, SUMMARIES[:1])
                self.assertEqual(self.fs.executions.dead_letters(limit=limit), SUMMARIES[:1])
                self.assertRequest(self.only_request(), "GET", "/v1/dead-letters", query={"limit": str(limit)})

    def test_empty(self):
        self.api.reply(200, [])
        self.assertEqual(self.fs.executions().dead_letters(), [])

    def test_refused_limits_send_nothing(self):
        for bad, cls in [(0, ValueError), (-1, ValueError), (1001, ValueError), ("10", TypeError),
                         (10.0, TypeError), (True, TypeError)]:
            with self.subTest(limit=bad):
                with self.assertRaises(cls) as cm:
                    self.fs.executions.dead_letters(limit=bad)
                self.assertIn("limit must be", str(cm.exception))
        self.assertEqual(self.api.requests, [])


class RetryTest(APITestCase):

    def test_retry(self):
        self.api.reply(202, "e-new", headers={"X-Faaspot-Execution-Id": "e-new"})
        self.assertEqual(self.fs.executions.retry("e1"), "e-new")
        req = self.only_request()
        self.assertRequest(req, "POST", "/v1/executions/e1/retry")
        self.assertIsNone(req.headers.get("Content-Type"))

    def test_escapes_the_id(self):
        self.api.reply(202, "e-new")
        self.fs.executions.retry("a/b c")
        self.assertEqual(self.only_request().path, "/v1/executions/a%2Fb%20c/retry")

    def test_refusals(self):
        cases = [
            (404, "not_found", 'execution "nope" not found', NotFound),
            (409, "not_ready", "execution e1 is completed: only a failed or timed-out run is run again", Conflict),
            (429, "quota_exceeded", "too many queued runs", FaaspotError),
        ]
        for status, code, message, cls in cases:
            with self.subTest(status=status):
                self.api.reply(status, {"error": {"code": code, "message": message}})
                with self.assertRaises(cls) as cm:
                    self.fs.executions.retry("e1")
                self.assertEqual((cm.exception.status, cm.exception.code, cm.exception.message), (status, code, message))

    def test_checks_the_id(self):
        for bad in ("", None, 42):
            with self.subTest(id=bad):
                with self.assertRaises(ValueError):
                    self.fs.executions.retry(bad)
        self.assertEqual(self.api.requests, [])


if __name__ == "__main__":
    unittest.main()
