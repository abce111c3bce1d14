"""Callbacks: deployments.create(..., callback_url=U) and deployments.run(..., callback_url=U),
and the tenant's webhook secret: Faaspot.webhook_secret() and rotate_webhook_secret()."""

import unittest

from faaspot.errors import BadRequest, FaaspotError, Unauthorized

from .fakeapi import APITestCase

HEADER = "X-Faaspot-Callback-Url"
HOOK = "https://hooks.example.com/faaspot?tenant=acme&x=%20"
CODE = "def main(args, context):\n    return 1\n"

# Values refused before anything is sent, with the exception and a piece of its message.
REFUSED = [
    (42, TypeError, "callback_url must be a str, not int"),
    (b"https://h/", TypeError, "not bytes"),
    ("", ValueError, "callback_url must be an http:// or https:// URL with a host, not ''"),
    ("hooks.example.com/x", ValueError, "not 'hooks.example.com/x'"),
    ("ftp://hooks.example.com/x", ValueError, "not 'ftp://hooks.example.com/x'"),
    ("https:///x", ValueError, "not 'https:///x'"),
    ("http://[::1/x", ValueError, "with a host"),
    ("https://h/a b", ValueError, "' ' in"),
    ("https://h/\r\nX-Evil: 1", ValueError, "'\\r' in"),
    ("https://h/caf\u00e9", ValueError, "'\u00e9' in"),
]


class RunCallbackTest(APITestCase):

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
                got = self.fs.deployments.run("hello", {"k": "v"}, wait=wait, version=version, callback_url=HOOK)
                self.assertEqual(got, answer)
                req = self.only_request()
                self.assertRequest(req, "POST", path, body={"k": "v"})
                self.assertEqual(req.headers.get_all(HEADER), [HOOK])
                self.assertIsNone(req.headers.get("Idempotency-Key"))

    def test_beside_an_idempotency_key(self):
        self.api.reply(202, "e1")
        self.fs.deployments.run("hello", idempotency_key="order-42", callback_url="http://10.0.0.7:9000/done")
        req = self.only_request()
        self.assertEqual(req.headers.get_all(HEADER), ["http://10.0.0.7:9000/done"])
        self.assertEqual(req.headers.get_all("Idempotency-Key"), ["order-42"])

    def test_not_sent_without_one(self):
        for wait in (False, True):
            with self.subTest(wait=wait):
                self.api.requests.clear()
                self.api.reply(200 if wait else 202, "e1")
                self.fs.deployments.run("hello", wait=wait, callback_url=None)
                self.assertIsNone(self.only_request().headers.get(HEADER))

    def test_refused_before_sending(self):
        for url, cls, detail in REFUSED:
            for wait in (False, True):
                with self.subTest(url=url, wait=wait):
                    with self.assertRaises(cls) as cm:
                        self.fs.deployments.run("hello", {"k": "v"}, wait=wait, callback_url=url)
                    self.assertIn(detail, str(cm.exception))
        self.assertEqual(self.api.requests, [])

    def test_server_refusal(self):
        self.api.reply(400, {"error": {"code": "invalid_argument", "field": HEADER,
                                       "message": "callback address refused: 10.0.0.7 is inside the server's network"}})
        with self.assertRaises(BadRequest) as cm:
            self.fs.deployments.run("hello", callback_url="http://10.0.0.7/x")
        self.assertEqual(cm.exception.field, HEADER)


class CreateCallbackTest(APITestCase):

    def create(self, **kwargs):
        self.api.requests.clear()
        record = {"name": "hook", "version": 1, "status": "building", "callback_url": HOOK}
        self.api.reply(202, record)
        self.assertEqual(self.fs.deployments.create("hook", code=CODE, **kwargs), record)
        return self.only_request().json()

    def test_sent_as_callback_url(self):
        self.assertEqual(self.create(callback_url=HOOK)["callback_url"], HOOK)

    def test_none_sends_none(self):
        self.assertNotIn("callback_url", self.create())
        self.assertNotIn("callback_url", self.create(callback_url=None))

    def test_refused_before_sending(self):
        for url, cls, detail in REFUSED:
            with self.subTest(url=url):
                with self.assertRaises(cls) as cm:
                    self.fs.deployments.create("hook", code=CODE, callback_url=url)
                self.assertIn(detail, str(cm.exception))
        self.assertEqual(self.api.requests, [])


class WebhookSecretTest(APITestCase):

    def test_get(self):
        self.api.reply(200, {"secret": "whsec_1"})
        self.assertEqual(self.fs.webhook_secret(), "whsec_1")
        self.assertRequest(self.only_request(), "GET", "/v1/webhook-secret")

    def test_rotate(self):
        self.api.reply(200, {"secret": "whsec_2"})
        self.assertEqual(self.fs.rotate_webhook_secret(), "whsec_2")
        self.assertRequest(self.only_request(), "POST", "/v1/webhook-secret")

    def test_answer_without_a_secret(self):
        for answer in ({}, {"secret": ""}, {"secret": 7}, ["whsec"]):
            for call in (self.fs.webhook_secret, self.fs.rotate_webhook_secret):
                with self.subTest(answer=answer, call=call.__name__):
                    self.api.reply(200, answer)
                    with self.assertRaises(FaaspotError) as cm:
                        call()
                    self.assertIn("holds no secret", str(cm.exception))

    def test_unauthorized(self):
        self.api.reply(401, {"error": {"code": "unauthorized", "message": "missing or unknown token"}})
        with self.assertRaises(Unauthorized):
            self.fs.rotate_webhook_secret()


if __name__ == "__main__":
    unittest.main()
