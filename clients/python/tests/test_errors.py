"""Every error answer of the API and every network failure, as the exception it becomes."""

import socket
import threading
import unittest

from faaspot import (BadRequest, BuildFailed, Conflict, ExecutionFailed, ExecutionTimeout, Faaspot,
                     FaaspotError, NotFound, Unauthorized, Unreachable)

from .fakeapi import APITestCase


def api_error(code, message, field=None):
    e = {"code": code, "message": message}
    if field:
        e["field"] = field
    return {"error": e}


class StatusMappingTest(APITestCase):

    def check(self, status, body, cls, code, message, field=None, raw=None):
        self.api.reply(status, body, raw=raw)
        with self.assertRaises(FaaspotError) as cm:
            self.fs.deployments.get("hello")
        e = cm.exception
        self.assertIs(type(e), cls)
        self.assertEqual((e.status, e.http_status, e.code, e.message, e.field), (status, status, code, message, field))
        return e

    def test_400_bad_request(self):
        e = self.check(400, api_error("invalid_argument", "name must match ^[a-z0-9]", "name"), BadRequest,
                       "invalid_argument", "name must match ^[a-z0-9]", "name")
        self.assertEqual(str(e), "name must match ^[a-z0-9] (field name, HTTP 400)")

    def test_401_unauthorized(self):
        msg = 'missing or unknown token: send "Authorization: Token <token>"'
        self.check(401, api_error("unauthorized", msg), Unauthorized, "unauthorized", msg)

    def test_404_not_found(self):
        e = self.check(404, api_error("not_found", 'deployment "hello" not found'), NotFound, "not_found",
                       'deployment "hello" not found')
        self.assertEqual(str(e), 'deployment "hello" not found (HTTP 404)')
        self.assertEqual(e.body, api_error("not_found", 'deployment "hello" not found'))

    def test_409_conflict(self):
        self.check(409, api_error("not_ready", 'deployment "hello" is still building'), Conflict, "not_ready",
                   'deployment "hello" is still building')

    def test_other_statuses_are_faaspot_errors(self):
        self.check(403, api_error("forbidden", "no"), FaaspotError, "forbidden", "no")
        self.check(413, api_error("too_large", "code is larger", "code"), FaaspotError, "too_large",
                   "code is larger", "code")
        self.check(500, api_error("internal", "internal error"), FaaspotError, "internal", "internal error")
        self.check(503, api_error("unavailable", "the service is temporarily unavailable"), FaaspotError,
                   "unavailable", "the service is temporarily unavailable")

    def test_body_that_is_not_json(self):
        self.check(502, None, FaaspotError, None, "upstream down", raw=b"upstream down\n")
        self.check(404, None, NotFound, None, "Not Found", raw=b"")

    def test_hierarchy(self):
        for cls in (BadRequest, Unauthorized, NotFound, Conflict, BuildFailed, ExecutionFailed, Unreachable):
            self.assertTrue(issubclass(cls, FaaspotError), cls)
        self.assertTrue(issubclass(ExecutionTimeout, ExecutionFailed))
        self.assertTrue(issubclass(Unreachable, ConnectionError))

    def test_errors_on_every_call(self):
        calls = [lambda: self.fs.deployments.list(), lambda: self.fs.deployments.delete("x"),
                 lambda: self.fs.deployments.create("x", code="c"), lambda: self.fs.deployments.run("x"),
                 lambda: self.fs.deployments.run("x", wait=True), lambda: self.fs.executions.get("e"),
                 lambda: self.fs.executions.list(), lambda: self.fs.executions.wait("e")]
        for call in calls:
            self.api.reply(404, api_error("not_found", "gone"))
            with self.assertRaises(NotFound):
                call()


class BuildFailedTest(APITestCase):

    def test_create_wait_422(self):
        deployment = {"name": "nomain", "status": "failed", "error": "the script defines no main(args, context)",
                      "build_log": "FAASPOT-CHECK ..."}
        self.api.reply(422, {"error": {"code": "build_failed", "message": deployment["error"]},
                             "deployment": deployment})
        with self.assertRaises(BuildFailed) as cm:
            self.fs.deployments.create("nomain", code="def handler(event): pass", wait=True)
        e = cm.exception
        self.assertEqual((e.status, e.code, e.message), (422, "build_failed", deployment["error"]))
        self.assertEqual(e.deployment, deployment)
        self.assertIn("nomain", str(e))
        self.assertIn("main(args, context)", str(e))


class ExecutionFailedTest(APITestCase):

    def test_sync_500(self):
        body = {"error": {"type": "ValueError", "message": "bad value",
                          "traceback": "Traceback (most recent call last):\n  File \"main.py\"...\nValueError: bad value\n"},
                "execution_id": "e1", "status": "failed"}
        self.api.reply(500, body, headers={"X-Faaspot-Execution-Id": "e1"})
        with self.assertRaises(ExecutionFailed) as cm:
            self.fs.deployments.run("boom", {"a": 1}, wait=True)
        e = cm.exception
        self.assertIs(type(e), ExecutionFailed)
        self.assertEqual((e.type, e.message, e.traceback, e.execution_id, e.status, e.http_status),
                         ("ValueError", "bad value", body["error"]["traceback"], "e1", "failed", 500))
        self.assertEqual(str(e), "execution e1 failed: ValueError: bad value")
        self.assertEqual(e.body, body)
        self.assertEqual(len(self.api.requests), 1)

    def test_sync_504_is_a_timeout(self):
        self.api.reply(504, {"error": {"type": "Timeout", "message": "the run took longer than 1s"},
                             "execution_id": "e2", "status": "timeout"})
        with self.assertRaises(ExecutionTimeout) as cm:
            self.fs.deployments.run("slow", wait=True)
        e = cm.exception
        self.assertEqual((e.type, e.execution_id, e.status, e.http_status, e.traceback),
                         ("Timeout", "e2", "timeout", 504, None))

    def test_sync_500_without_error_object(self):
        self.api.reply(500, {"error": None, "execution_id": "e3", "status": "failed"})
        with self.assertRaises(ExecutionFailed) as cm:
            self.fs.deployments.run("x", wait=True)
        self.assertEqual((cm.exception.execution_id, cm.exception.type), ("e3", None))

    def test_internal_error_is_not_an_execution_failure(self):
        self.api.reply(500, api_error("internal", "internal error"))
        with self.assertRaises(FaaspotError) as cm:
            self.fs.deployments.run("x", wait=True)
        self.assertNotIsInstance(cm.exception, ExecutionFailed)
        self.assertEqual((cm.exception.status, cm.exception.code), (500, "internal"))

    def test_conflict_on_run(self):
        self.api.reply(409, api_error("not_ready", 'deployment "x" failed to build: no main'))
        with self.assertRaises(Conflict):
            self.fs.deployments.run("x", wait=True)


class UnreachableTest(unittest.TestCase):

    def test_connection_refused(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
        s.close()
        fs = Faaspot(url=url, token="t")
        with self.assertRaises(Unreachable) as cm:
            fs.deployments.list()
        self.assertIn(url, str(cm.exception))
        self.assertIsNone(cm.exception.status)
        with self.assertRaises(ConnectionError):
            fs.executions.get("e1")

    def test_no_answer_in_time(self):
        s = socket.socket()  # accepts connections (backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        self.addCleanup(s.close)
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
        with self.assertRaises(Unreachable) as cm:
            Faaspot(url=url, token="t", timeout=0.2).deployments.list()
        self.assertIn(url, str(cm.exception))
        self.assertIn("no answer", str(cm.exception))

    def test_connection_closed_without_answer(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        self.addCleanup(s.close)
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
        def close_first():
            conn, _ = s.accept()
            conn.recv(65536)
            conn.close()
        threading.Thread(target=close_first, daemon=True).start()
        with self.assertRaises(Unreachable) as cm:
            Faaspot(url=url, token="t", timeout=5).deployments.list()
        self.assertIn(url, str(cm.exception))


if __name__ == "__main__":
    unittest.main()
