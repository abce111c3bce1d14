"""Waiting for runs: the sync route's 202 (the server's sync wait expired) and polling."""

import unittest

from faaspot import ExecutionFailed, ExecutionTimeout, WaitTimeout

from .fakeapi import APITestCase

BACKOFF = [0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0]


class SyncPendingTest(APITestCase):

    def queue_polls(self, execution_id, pending, final):
        for status in pending:
            self.api.reply(200, {"id": execution_id, "status": status, "result": None, "error": None})
        self.api.reply(200, dict({"id": execution_id}, **final))

    def test_202_polls_until_completed(self):
        self.api.reply(202, {"execution_id": "e1", "status": "running"}, headers={"X-Faaspot-Execution-Id": "e1"})
        self.queue_polls("e1", ["running"] * 8, {"status": "completed", "result": {"late": True}})
        got = self.fs.deployments.run("slow", {"a": 1}, wait=True)
        self.assertEqual(got, {"late": True})
        reqs = self.api.requests
        self.assertRequest(reqs[0], "POST", "/v1/sync/deployments/slow/rpc/", body={"a": 1})
        self.assertEqual(len(reqs), 10)
        for req in reqs[1:]:
            self.assertRequest(req, "GET", "/v1/executions/e1")
        self.assertEqual(self.sleeps, BACKOFF)

    def test_202_then_failed(self):
        self.api.reply(202, {"execution_id": "e2", "status": "queued"})
        self.queue_polls("e2", ["queued"], {"status": "failed", "error": {
            "type": "KeyError", "message": "'x'", "traceback": "Traceback ...\nKeyError: 'x'\n"}})
        with self.assertRaises(ExecutionFailed) as cm:
            self.fs.deployments.run("x", wait=True)
        e = cm.exception
        self.assertIs(type(e), ExecutionFailed)
        self.assertEqual((e.type, e.message, e.execution_id, e.status, e.http_status),
                         ("KeyError", "'x'", "e2", "failed", None))
        self.assertIn("KeyError", e.traceback)
        self.assertEqual(self.sleeps, [0.02])

    def test_202_then_timeout(self):
        self.api.reply(202, {"execution_id": "e3", "status": "running"})
        self.queue_polls("e3", [], {"status": "timeout", "error": {"type": "Timeout", "message": "longer than 1s"}})
        with self.assertRaises(ExecutionTimeout) as cm:
            self.fs.deployments.run("x", wait=True)
        self.assertEqual((cm.exception.execution_id, cm.exception.status), ("e3", "timeout"))
        self.assertEqual(self.sleeps, [])

    def test_202_id_from_the_header(self):
        self.api.reply(202, {"status": "running"}, headers={"X-Faaspot-Execution-Id": "e4"})
        self.queue_polls("e4", [], {"status": "completed", "result": 7})
        self.assertEqual(self.fs.deployments.run("x", wait=True), 7)
        self.assertEqual(self.api.requests[1].path, "/v1/executions/e4")


class WaitTest(APITestCase):

    def test_wait_returns_a_failed_record(self):
        self.api.reply(200, {"id": "e1", "status": "queued"})
        self.api.reply(200, {"id": "e1", "status": "failed", "error": {"type": "T", "message": "m"}})
        record = self.fs.executions.wait("e1", timeout=10)
        self.assertEqual(record["status"], "failed")
        self.assertEqual(self.sleeps, [0.02])

    def test_wait_gives_up_after_timeout(self):
        now = [100.0]

        def sleep(d):
            self.sleeps.append(d)
            now[0] += d
        self.fs.executions._sleep = sleep
        self.fs.executions._clock = lambda: now[0]
        for _ in range(20):
            self.api.reply(200, {"id": "e1", "status": "running"})
        with self.assertRaises(WaitTimeout) as cm:
            self.fs.executions().wait("e1", timeout=2.5)
        self.assertEqual(cm.exception.record["status"], "running")
        self.assertIn("still running", str(cm.exception))
        self.assertIsInstance(cm.exception, TimeoutError)
        self.assertEqual(self.sleeps, [0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.0, 1.0])  # 3.26s > 2.5s

    def test_docs_non_blocking_example(self):
        faaspot = self.fs
        self.api.reply(202, "e9")
        self.api.reply(200, {"id": "e9", "status": "queued"})
        execution_id = faaspot.deployments.run('DEPLOYMENT_NAME', {'PARAMETER': 'VALUE'})
        execution = faaspot.executions().get(execution_id)
        self.assertEqual(execution['status'], "queued")
        self.assertRequest(self.api.requests[0], "POST", "/v1/deployments/DEPLOYMENT_NAME/rpc/",
                           body={"PARAMETER": "VALUE"})
        self.assertRequest(self.api.requests[1], "GET", "/v1/executions/e9")


if __name__ == "__main__":
    unittest.main()
