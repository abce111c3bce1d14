"""Redirects: followed with the token within the server's origin, refused (before anything is
sent to it) when they lead to another scheme, host or port."""

from faaspot import FaaspotError, transport

from .fakeapi import APITestCase, FakeAPI

DEPLOYMENT = {"id": "d1", "name": "hello", "version": 1, "status": "ready", "ready_version": 1,
              "limits": {"memory_mb": 256, "cpus": 1, "timeout_s": 30}, "context_keys": []}


class RedirectTest(APITestCase):

    TOKEN = "fs_Q7redirect_secret"

    def setUp(self):
        super().setUp()
        # A second server on another port of 127.0.0.1: it records whatever reaches it.
        self.other = FakeAPI().start()
        self.addCleanup(self.other.close)

    def assertRefused(self, location, status=302):
        self.api.reply(status, None, headers={"Location": location})
        self.other.reply(200, DEPLOYMENT)
        try:
            got, e = self.fs.deployments.get("hello"), None
        except FaaspotError as err:
            got, e = None, err
        leaks = [r for r in self.other.requests if self.TOKEN in r.headers.get("Authorization", "")]
        self.assertEqual(leaks, [], "the token was sent to another origin")
        self.assertIsNotNone(e, "the redirect was followed to %s: %r" % (location, got))
        self.assertEqual((e.code, e.status), ("cross_origin_redirect", status), e)
        self.assertIn(location.split("?")[0], e.message)
        self.assertNotIn(self.TOKEN, str(e))
        self.assertEqual(len(self.api.requests), 1, self.api.requests)
        return e

    def test_redirect_to_another_port_is_refused(self):
        for status in (301, 302, 303, 307, 308):
            with self.subTest(status=status):
                self.api.requests.clear()
                self.other.requests.clear()
                self.assertRefused(self.other.url + "/v1/deployments/hello", status)
                # Nothing reached the other origin, the token least of all.
                self.assertEqual(self.other.requests, [])

    def test_redirect_to_another_host_is_refused(self):
        # Same server and port under another name: another origin all the same.
        port = self.api.url.rsplit(":", 1)[1]
        self.assertRefused("http://localhost:%s/v1/deployments/hello" % port)

    def test_redirect_to_another_scheme_is_refused(self):
        self.assertRefused(self.api.url.replace("http://", "https://") + "/v1/deployments/hello")

    def test_scheme_relative_redirect_is_refused(self):
        self.assertRefused("//" + self.other.url.split("//", 1)[1] + "/v1/deployments/hello")
        self.assertEqual(self.other.requests, [])

    def test_same_origin_redirect_keeps_the_token(self):
        self.api.reply(307, None, headers={"Location": "/v1/deployments/hello-moved"})
        self.api.reply(200, DEPLOYMENT)
        self.assertEqual(self.fs.deployments.get("hello"), DEPLOYMENT)
        self.assertEqual([r.path for r in self.api.requests], ["/v1/deployments/hello", "/v1/deployments/hello-moved"])
        for r in self.api.requests:
            self.assertEqual(r.headers.get("Authorization"), "Token " + self.TOKEN)

    def test_same_origin_spelled_with_the_default_port(self):
        self.assertTrue(transport._same_origin("http://example.com/a", "HTTP://Example.COM:80/b"))
        self.assertTrue(transport._same_origin("https://example.com:443/a", "https://example.com/b"))
        self.assertFalse(transport._same_origin("http://example.com/a", "https://example.com/a"))
        self.assertFalse(transport._same_origin("http://example.com/a", "http://example.com:8080/a"))
        self.assertFalse(transport._same_origin("http://example.com/a", "http://example.com.evil/a"))
        self.assertFalse(transport._same_origin("http://example.com/a", "http://user@evil/a"))
