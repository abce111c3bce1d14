"""Errors reach the caller on their own: raised `from None`, so that a traceback shows the
faaspot error and the caller's line, not urllib's exception and frames chained under it."""

import os
import socket
import traceback
import unittest

from faaspot import Faaspot, FaaspotError, NotFound, Unreachable

from .fakeapi import APITestCase


def raised(call, cls=FaaspotError):
    """The exception call raises, with its traceback (assertRaises drops it); None if none."""
    try:
        call()
    except cls as e:
        return e
    return None


class UnchainedMixin(object):

    def assertUnchained(self, exc):
        """exc carries no chained exception, and its printed traceback neither shows one nor
        passes through urllib."""
        self.assertIsNone(exc.__cause__)
        self.assertTrue(exc.__suppress_context__, "the exception would print its __context__")
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        self.assertNotIn("During handling of the above exception", text)
        self.assertNotIn("The above exception was the direct cause", text)
        frames = [f.filename for f in traceback.extract_tb(exc.__traceback__)]
        self.assertEqual([f for f in frames if os.sep + "urllib" + os.sep in f], [], text)
        self.assertEqual(text.count("Traceback (most recent call last)"), 1, text)


class APIErrorsUnchainedTest(UnchainedMixin, APITestCase):

    def test_http_error_answer(self):
        self.api.reply(404, {"error": {"code": "not_found", "message": 'deployment "x" not found'}})
        e = raised(lambda: self.fs.deployments.get("x"), NotFound)
        self.assertUnchained(e)
        self.assertEqual(str(e), 'deployment "x" not found (HTTP 404)')

    def test_every_status(self):
        for status in (400, 401, 409, 413, 422, 429, 500, 503):
            with self.subTest(status=status):
                self.api.reply(status, {"error": {"code": "c", "message": "m"}})
                self.assertUnchained(raised(lambda: self.fs.deployments.list()))

    def test_answer_that_is_not_json(self):
        self.api.reply(200, None, raw=b"<html>proxy</html>")
        e = raised(lambda: self.fs.deployments.list())
        self.assertUnchained(e)
        self.assertIn("not JSON", str(e))

    def test_cross_origin_redirect(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
        self.api.reply(302, None, headers={"Location": "http://127.0.0.1:%d/v1/deployments" % port})
        e = raised(lambda: self.fs.deployments.list())
        self.assertEqual(e.code, "cross_origin_redirect")
        self.assertUnchained(e)

    def test_run_params_not_a_dict(self):
        e = raised(lambda: self.fs.deployments.run("x", 5), TypeError)
        self.assertUnchained(e)
        self.assertEqual(self.api.requests, [])

    def test_file_not_utf8(self):
        path = os.path.join(self.home, "latin1.py")
        with open(path, "wb") as f:
            f.write(b"def main(args, context):\n    return '\xe9'\n")
        e = raised(lambda: self.fs.deployments.create("x", file=path), ValueError)
        self.assertUnchained(e)
        self.assertIn("not UTF-8", str(e))


class NetworkErrorsUnchainedTest(UnchainedMixin, unittest.TestCase):

    def test_connection_refused(self):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
        s.close()
        e = raised(lambda: Faaspot(url=url, token="t").deployments.list(), Unreachable)
        self.assertUnchained(e)
        self.assertIn(url, str(e))

    def test_no_answer_in_time(self):
        s = socket.socket()  # accepts connections (backlog) but never answers
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        self.addCleanup(s.close)
        url = "http://127.0.0.1:%d" % s.getsockname()[1]
        e = raised(lambda: Faaspot(url=url, token="t", timeout=0.2).deployments.list(), Unreachable)
        self.assertUnchained(e)
        self.assertIn("no answer", str(e))


class ConfigErrorsUnchainedTest(UnchainedMixin, APITestCase):

    def test_config_file_not_json(self):
        os.makedirs(os.path.join(self.home, ".faaspot"))
        with open(os.path.join(self.home, ".faaspot", "config.json"), "w") as f:
            f.write("{not json")
        e = raised(Faaspot)
        self.assertUnchained(e)
        self.assertEqual(e.code, "not_configured")


if __name__ == "__main__":
    unittest.main()
