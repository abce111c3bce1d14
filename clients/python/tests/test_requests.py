"""The requests the client sends: method, path, query, headers and body."""

import os
import unittest

from faaspot import __version__

from .fakeapi import APITestCase

DEPLOYMENT = {"id": "d1", "name": "hello", "version": 1, "status": "building", "ready_version": 0,
              "limits": {"memory_mb": 256, "cpus": 1, "timeout_s": 30}, "context_keys": []}


class DeploymentRequestsTest(APITestCase):

    def write(self, name, text):
        path = os.path.join(self.home, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path

    def test_create_from_files(self):
        code = "def main(args, context):\n    return 'héllo ' + args.get('name', 'wörld')\n"
        reqs = "Jinja2==2.7.2\n"
        ctx = 'access_key_is = "XYZ"\nsecret_access_key = "123"\n'
        self.api.reply(202, DEPLOYMENT)
        got = self.fs.deployments.create("hello", file=self.write("hello.py", code),
                                         requirements_file=self.write("requirements.txt", reqs),
                                         context_file=self.write("context.txt", ctx))
        self.assertEqual(got, DEPLOYMENT)
        req = self.only_request()
        self.assertRequest(req, "POST", "/v1/deployments",
                           body={"name": "hello", "code": code, "requirements": reqs, "context": ctx})
        self.assertEqual(req.headers["User-Agent"], "faaspot-python/" + __version__)
        self.assertIn("héllo".encode("utf-8"), req.body)  # UTF-8 on the wire, whether escaped or not

    def test_create_docs_example(self):
        # faaspot.deployments.create(DEPLOYMENT_NAME, file=FILE_PATH), as the docs write it.
        DEPLOYMENT_NAME, FILE_PATH = "hello", self.write("f.py", "def main(args, context):\n    return ''\n")
        faaspot = self.fs
        self.api.reply(202, DEPLOYMENT)
        faaspot.deployments.create(DEPLOYMENT_NAME, file=FILE_PATH)
        self.assertRequest(self.only_request(), "POST", "/v1/deployments", body={
            "name": "hello", "code": "def main(args, context):\n    return ''\n", "requirements": "", "context": None})

    def test_create_positional_files_and_wait(self):
        self.api.reply(200, dict(DEPLOYMENT, status="ready", ready_version=1))
        got = self.fs.deployments.create("hello", self.write("f.py", "x"), None, self.write("c", 'k = "v"'), True)
        self.assertEqual(got["status"], "ready")
        self.assertRequest(self.only_request(), "POST", "/v1/deployments", query={"wait": "true"},
                           body={"name": "hello", "code": "x", "requirements": "", "context": 'k = "v"'})

    def test_create_from_text_dict_context_and_limits(self):
        self.api.reply(202, DEPLOYMENT)
        self.fs.deployments.create("hello", code="def main(a, c): pass", requirements="six\n",
                                   context={"k": "v", "n": 1}, limits={"memory_mb": 64, "timeout_s": 5})
        self.assertRequest(self.only_request(), "POST", "/v1/deployments", body={
            "name": "hello", "code": "def main(a, c): pass", "requirements": "six\n",
            "context": {"k": "v", "n": 1}, "limits": {"memory_mb": 64, "timeout_s": 5}})

    def test_create_argument_errors(self):
        path = self.write("f.py", "x")
        with self.assertRaises(ValueError):
            self.fs.deployments.create("hello")
        with self.assertRaises(ValueError):
            self.fs.deployments.create("hello", file=path, code="x")
        with self.assertRaises(ValueError):
            self.fs.deployments.create("hello", code="x", context="a", context_file=path)
        with self.assertRaises(TypeError):
            self.fs.deployments.create("hello", code="x", context=["not", "a", "dict"])
        with self.assertRaises(FileNotFoundError):
            self.fs.deployments.create("hello", file=os.path.join(self.home, "missing.py"))
        with open(os.path.join(self.home, "latin1.py"), "wb") as f:
            f.write(b"# \xe9\n")
        with self.assertRaises(ValueError) as cm:
            self.fs.deployments.create("hello", file=os.path.join(self.home, "latin1.py"))
        self.assertIn("UTF-8", str(cm.exception))
        self.assertEqual(self.api.requests, [])

    def test_list_get_delete(self):
        self.api.reply(200, [DEPLOYMENT])
        self.api.reply(200, DEPLOYMENT)
        self.api.reply(204)
        self.assertEqual(self.fs.deployments.list(), [DEPLOYMENT])
        self.assertEqual(self.fs.deployments.get("hello"), DEPLOYMENT)
        self.assertIsNone(self.fs.deployments.delete("hello"))
        reqs = self.api.requests
        self.assertRequest(reqs[0], "GET", "/v1/deployments")
        self.assertRequest(reqs[1], "GET", "/v1/deployments/hello")
        self.assertRequest(reqs[2], "DELETE", "/v1/deployments/hello")

    def test_names_are_quoted(self):
        self.api.reply(200, DEPLOYMENT)
        self.api.reply(202, "e1")
        self.api.reply(200, {"id": "a/b", "status": "queued"})
        self.fs.deployments.get("a b/../c?d")
        self.fs.deployments.run("x/y", {})
        self.fs.executions.get("a/b")
        targets = [r.target for r in self.api.requests]
        self.assertEqual(targets, ["/v1/deployments/a%20b%2F..%2Fc%3Fd", "/v1/deployments/x%2Fy/rpc/",
                                   "/v1/executions/a%2Fb"])
        for bad in ("", None, 3):
            with self.assertRaises(ValueError):
                self.fs.deployments.get(bad)

    def test_run_async(self):
        self.api.reply(202, "0123456789abcdef", headers={"X-Faaspot-Execution-Id": "0123456789abcdef"})
        execution_id = self.fs.deployments.run("hello", {"PARAMETER": "VALUE", "n": 2})
        self.assertEqual(execution_id, "0123456789abcdef")
        self.assertRequest(self.only_request(), "POST", "/v1/deployments/hello/rpc/",
                           body={"PARAMETER": "VALUE", "n": 2})

    def test_run_async_without_params_sends_an_empty_object(self):
        self.api.reply(202, "e1")
        self.assertEqual(self.fs.deployments.run("hello"), "e1")
        self.assertRequest(self.only_request(), "POST", "/v1/deployments/hello/rpc/", body={})

    def test_run_sync(self):
        self.api.reply(200, {"greeting": "hello user1"}, headers={"X-Faaspot-Execution-Id": "e1"})
        got = self.fs.deployments.run("hello", {"PARAMETER_1": "VALUE_!", "PARAMETER_2": "VALUE_2"}, wait=True)
        self.assertEqual(got, {"greeting": "hello user1"})
        self.assertRequest(self.only_request(), "POST", "/v1/sync/deployments/hello/rpc/",
                           body={"PARAMETER_1": "VALUE_!", "PARAMETER_2": "VALUE_2"})

    def test_run_sync_values(self):
        for value in (None, 42, 1.5, "s", [1, "a"], True, ""):
            self.api.reply(200, value)
            self.assertEqual(self.fs.deployments.run("hello", wait=True), value)

    def test_run_params_must_be_a_mapping(self):
        with self.assertRaises(TypeError):
            self.fs.deployments.run("hello", "name=user1")
        self.api.reply(202, "e1")
        self.fs.deployments.run("hello", [("k", "v")])  # anything dict() takes
        self.assertEqual(self.only_request().json(), {"k": "v"})

    def test_callables(self):
        self.assertIs(self.fs.executions(), self.fs.executions)
        self.assertIs(self.fs.deployments(), self.fs.deployments)


class ExecutionRequestsTest(APITestCase):

    def test_get(self):
        record = {"id": "e1", "status": "completed", "result": {"a": 1}}
        self.api.reply(200, record)
        self.api.reply(200, record)
        self.assertEqual(self.fs.executions.get("e1"), record)
        self.assertEqual(self.fs.executions().get("e1"), record)  # as the docs write it
        for req in self.api.requests:
            self.assertRequest(req, "GET", "/v1/executions/e1")

    def test_list(self):
        self.api.reply(200, [])
        self.api.reply(200, [{"id": "e1"}])
        self.assertEqual(self.fs.executions.list(), [])
        self.assertEqual(self.fs.executions.list(deployment="hello", limit=5), [{"id": "e1"}])
        self.assertRequest(self.api.requests[0], "GET", "/v1/executions")
        self.assertRequest(self.api.requests[1], "GET", "/v1/executions", query={"deployment": "hello", "limit": "5"})


if __name__ == "__main__":
    unittest.main()
