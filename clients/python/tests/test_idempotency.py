"""deployments.run(..., idempotency_key=K): the Idempotency-Key header, and the keys refused
before anything is sent."""

import unittest

from faaspot.errors import BadRequest

from .fakeapi import APITestCase

HEADER = "Idempotency-Key"


class IdempotencyKeyTest(APITestCase):

    def test_sent_on_every_run_route(self):
        cases = [
            (False, None, 202, "e1", "/v1/deployments/hello/rpc/"),
            (True, None, 200, {"ok": 1}, "/v1/sync/deployments/hello/rpc/"),
            (False, 2, 202, "e1", "/v1/deployments/hello/versions/2/rpc/"),
            (True, 2, 200, {"ok": 1}, "/v1/sync/deployments/hello/versions/2/rpc/"),
        ]
        for wait, version, status, answer, path in cases:
            with self.subTest(wait=wait, version=version):
                self.api.requests.clear()
                self.api.reply(status, answer, headers={"X-Faaspot-Execution-Id": "e1"})
                got = self.fs.deployments.run("hello", {"k": "v"}, wait=wait, version=version, idempotency_key="order-42")
                self.assertEqual(got, answer)
                req = self.only_request()
                self.assertRequest(req, "POST", path, body={"k": "v"})
                self.assertEqual(req.headers.get_all(HEADER), ["order-42"])

    def test_not_sent_without_a_key(self):
        for wait, version in [(False, None), (True, None), (False, 2), (True, 2)]:
            with self.subTest(wait=wait, version=version):
                self.api.requests.clear()
                self.api.reply(202 if not wait else 200, "e1")
                self.fs.deployments.run("hello", wait=wait, version=version, idempotency_key=None)
                self.assertIsNone(self.only_request().headers.get(HEADER))

    def test_sync_pending_polls_without_the_key(self):
        # The key's execution is still running: the 202 leads to polling its record.
        self.api.reply(202, {"execution_id": "e3", "status": "running"})
        self.api.reply(200, {"id": "e3", "status": "completed", "result": 5})
        self.assertEqual(self.fs.deployments.run("hello", wait=True, idempotency_key="k"), 5)
        run, poll = self.api.requests
        self.assertEqual(run.headers.get(HEADER), "k")
        self.assertRequest(poll, "GET", "/v1/executions/e3")
        self.assertIsNone(poll.headers.get(HEADER))

    def test_accepted_keys(self):
        for key in ["a", "x" * 255, "!~", "order:42/retry#1", 'q"{}\\']:
            with self.subTest(key=key):
                self.api.requests.clear()
                self.api.reply(202, "e1")
                self.fs.deployments.run("hello", idempotency_key=key)
                self.assertEqual(self.only_request().headers.get(HEADER), key)

    def test_refused_keys_send_nothing(self):
        cases = [
            (42, TypeError, "not int"),
            (b"order-42", TypeError, "not bytes"),
            ("", ValueError, "not an empty string"),
            ("x" * 256, ValueError, "not 256 characters"),
            ("order 42", ValueError, "' ' at index 5"),
            ("a\tb", ValueError, "'\\t' at index 1"),
            ("k\n", ValueError, "'\\n' at index 1"),
            ("caf\u00e9", ValueError, "'\u00e9' at index 3"),
            ("\x7f", ValueError, "'\\x7f' at index 0"),
        ]
        for key, cls, detail in cases:
            for wait in (False, True):
                with self.subTest(key=key, wait=wait):
                    with self.assertRaises(cls) as cm:
                        self.fs.deployments.run("hello", {"k": "v"}, wait=wait, idempotency_key=key)
                    self.assertIn("idempotency_key must be", str(cm.exception))
                    self.assertIn(detail, str(cm.exception))
        self.assertEqual(self.api.requests, [])

    def test_server_refusal(self):
        self.api.reply(400, {"error": {"code": "invalid_argument", "field": HEADER,
                                       "message": "the Idempotency-Key header must be 1 to 255 printable ASCII characters"}})
        with self.assertRaises(BadRequest) as cm:
            self.fs.deployments.run("hello", idempotency_key="k")
        self.assertEqual(cm.exception.field, HEADER)


class TransportHeadersTest(APITestCase):

    def test_extra_headers_do_not_replace_the_token(self):
        self.api.reply(200, {})
        self.fs.deployments._transport.request("POST", "/v1/x", body={},
                                               headers={"X-Extra": "1", "authorization": "Token other"})
        req = self.only_request()
        self.assertEqual(req.headers.get("X-Extra"), "1")
        self.assertEqual(req.headers.get_all("Authorization"), ["Token " + self.TOKEN])
        self.assertEqual(req.headers.get("Content-Type"), "application/json")


if __name__ == "__main__":
    unittest.main()
