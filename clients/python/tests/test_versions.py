"""faaspot.deployments.versions(name): the request and its answer."""

import unittest

from faaspot.errors import BadRequest, Conflict, ExecutionFailed, NotFound

from .fakeapi import APITestCase

VERSIONS = [
    {"version": 2, "status": "failed", "error": "no main", "ready": False, "hash": "ab" * 32,
     "limits": {"memory_mb": 256, "cpus": 1, "timeout_s": 30}, "context_keys": [],
     "created_at": "2025-03-01T12:00:00Z", "finished_at": "2025-03-01T12:01:00Z"},
    {"version": 1, "status": "ready", "ready": True, "hash": "cd" * 32,
     "limits": {"memory_mb": 256, "cpus": 1, "timeout_s": 30}, "context_keys": ["key"],
     "created_at": "2025-03-01T11:00:00Z", "finished_at": "2025-03-01T11:01:00Z"},
]


class VersionsTest(APITestCase):

    def test_versions(self):
        self.api.reply(200, VERSIONS)
        got = self.fs.deployments.versions("hello")
        self.assertEqual(got, VERSIONS)
        self.assertRequest(self.only_request(), "GET", "/v1/deployments/hello/versions")

    def test_versions_escapes_the_name(self):
        self.api.reply(200, [])
        self.assertEqual(self.fs.deployments.versions("a b"), [])
        self.assertEqual(self.only_request().path, "/v1/deployments/a%20b/versions")

    def test_versions_of_unknown_deployment(self):
        self.api.reply(404, {"error": {"code": "not_found", "message": 'deployment "nope" not found'}})
        with self.assertRaises(NotFound):
            self.fs.deployments.versions("nope")


DEPLOYMENT = {"name": "hello", "version": 3, "status": "failed", "ready_version": 1,
              "limits": {"memory_mb": 256, "cpus": 1, "timeout_s": 30}, "context_keys": []}


class RollbackTest(APITestCase):

    def test_rollback(self):
        self.api.reply(200, DEPLOYMENT)
        self.assertEqual(self.fs.deployments.rollback("hello", 1), DEPLOYMENT)
        self.assertRequest(self.only_request(), "POST", "/v1/deployments/hello/rollback", body={"version": 1})

    def test_rollback_escapes_the_name(self):
        self.api.reply(200, DEPLOYMENT)
        self.fs.deployments.rollback("a/b", 2)
        self.assertEqual(self.only_request().path, "/v1/deployments/a%2Fb/rollback")

    def test_rollback_refusals(self):
        cases = [
            (404, "not_found", 'deployment "nope" not found', None, NotFound),
            (404, "not_found", "version 9 not kept", "version", NotFound),
            (409, "not_ready", "version 3 failed to build", "version", Conflict),
            (400, "invalid_argument", "version must be a positive integer", "version", BadRequest),
        ]
        for status, code, message, field, cls in cases:
            with self.subTest(message=message):
                self.api.reply(status, {"error": {"code": code, "message": message, "field": field}})
                with self.assertRaises(cls) as cm:
                    self.fs.deployments.rollback("hello", 3)
                e = cm.exception
                self.assertEqual((e.status, e.code, e.message, e.field), (status, code, message, field))

    def test_rollback_checks_the_version(self):
        for bad, cls in [(0, ValueError), (-1, ValueError), ("2", TypeError), (2.0, TypeError),
                         (True, TypeError), (None, TypeError)]:
            with self.subTest(version=bad):
                with self.assertRaises(cls) as cm:
                    self.fs.deployments.rollback("hello", bad)
                self.assertIn("version", str(cm.exception))
        self.assertEqual(self.api.requests, [])


class PinnedRunTest(APITestCase):

    def test_async(self):
        self.api.reply(202, "e1")
        self.assertEqual(self.fs.deployments.run("a b", {"k": "v"}, version=2), "e1")
        self.assertRequest(self.only_request(), "POST", "/v1/deployments/a%20b/versions/2/rpc/", body={"k": "v"})

    def test_sync(self):
        self.api.reply(200, {"ran": 2}, headers={"X-Faaspot-Execution-Id": "e2"})
        self.assertEqual(self.fs.deployments.run("hello", wait=True, version=2), {"ran": 2})
        self.assertRequest(self.only_request(), "POST", "/v1/sync/deployments/hello/versions/2/rpc/", body={})

    def test_sync_pending_polls(self):
        self.api.reply(202, {"execution_id": "e3", "status": "running"})
        self.api.reply(200, {"id": "e3", "status": "completed", "result": 5})
        self.assertEqual(self.fs.deployments.run("hello", wait=True, version=3), 5)
        self.assertEqual([r.path for r in self.api.requests],
                         ["/v1/sync/deployments/hello/versions/3/rpc/", "/v1/executions/e3"])

    def test_sync_failure(self):
        self.api.reply(500, {"error": {"type": "KeyError", "message": "'x'", "traceback": "T"},
                             "execution_id": "e4", "status": "failed"})
        with self.assertRaises(ExecutionFailed) as cm:
            self.fs.deployments.run("hello", wait=True, version=4)
        self.assertEqual((cm.exception.execution_id, cm.exception.type), ("e4", "KeyError"))

    def test_refusals(self):
        for wait in (False, True):
            with self.subTest(wait=wait):
                self.api.reply(409, {"error": {"code": "not_ready", "message": "version 3 is building"}})
                with self.assertRaises(Conflict):
                    self.fs.deployments.run("hello", wait=wait, version=3)
                self.api.reply(404, {"error": {"code": "not_found", "message": "version 9 not kept"}})
                with self.assertRaises(NotFound):
                    self.fs.deployments.run("hello", wait=wait, version=9)

    def test_without_version_runs_the_current_one(self):
        self.api.reply(202, "e5")
        self.fs.deployments.run("hello", version=None)
        self.assertEqual(self.only_request().path, "/v1/deployments/hello/rpc/")

    def test_checks_the_version(self):
        for bad, cls in [(0, ValueError), (-2, ValueError), ("1", TypeError), (1.0, TypeError), (False, TypeError)]:
            for wait in (False, True):
                with self.subTest(version=bad, wait=wait):
                    with self.assertRaises(cls) as cm:
                        self.fs.deployments.run("hello", wait=wait, version=bad)
                    self.assertIn("version", str(cm.exception))
        self.assertEqual(self.api.requests, [])


if __name__ == "__main__":
    unittest.main()
