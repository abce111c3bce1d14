"""A fake faaspot API on 127.0.0.1 for the unit tests: it records every request and answers
with the replies a test queued, in order."""

import json
import os
import tempfile
import threading
import unittest
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from unittest import mock

from faaspot import Faaspot


class Request(object):
    """One request as the fake API received it."""

    def __init__(self, method, target, headers, body):
        parts = urllib.parse.urlsplit(target)
        self.method = method
        self.target = target
        self.path = parts.path
        self.query = dict(urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return "Request(%s %s %r)" % (self.method, self.target, self.body[:100])


class FakeAPI(object):
    """Start with start(), queue answers with reply(), read what came in from requests."""

    def __init__(self):
        self.requests = []
        self._replies = []
        self._lock = threading.Lock()
        self._server = None

    def start(self):
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with api._lock:
                    api.requests.append(Request(self.command, self.path, self.headers, body))
                    reply = api._replies.pop(0) if api._replies else None
                if reply is None:
                    status, headers, data = 599, {}, b'{"error": {"code": "test", "message": "no reply queued"}}'
                else:
                    status, headers, data = reply
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format, *args):
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return self

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self._server.server_address[1]

    def reply(self, status, body=None, raw=None, headers=None):
        """Queues an answer: body encoded as JSON (unless raw bytes are given)."""
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        data = raw if raw is not None else (b"" if body is None else (json.dumps(body) + "\n").encode("utf-8"))
        with self._lock:
            self._replies.append((status, h, data))

    def close(self):
        if self._server:
            self._server.shutdown()
            self._server.server_close()


class APITestCase(unittest.TestCase):
    """A test with a fake API, a client of it (token "tok"), and an environment without faaspot
    settings whose HOME is an empty temporary folder."""

    TOKEN = "tok"

    def setUp(self):
        home = tempfile.TemporaryDirectory()
        self.addCleanup(home.cleanup)
        self.home = home.name
        env = {k: v for k, v in os.environ.items() if not k.startswith("FAASPOT_")}
        env["HOME"] = self.home
        patcher = mock.patch.dict(os.environ, env, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.api = FakeAPI().start()
        self.addCleanup(self.api.close)
        self.fs = Faaspot(url=self.api.url, token=self.TOKEN)
        self.sleeps = []
        self.fs.executions._sleep = self.sleeps.append

    def only_request(self):
        self.assertEqual(len(self.api.requests), 1, self.api.requests)
        return self.api.requests[0]

    def assertRequest(self, req, method, path, query=None, body=None):
        self.assertEqual(req.method, method)
        self.assertEqual(req.path, path)
        self.assertEqual(req.query, query or {})
        self.assertEqual(req.headers.get("Authorization"), "Token " + self.TOKEN)
        if body is None:
            self.assertEqual(req.body, b"")
        else:
            self.assertEqual(req.headers.get("Content-Type"), "application/json")
            self.assertEqual(req.json(), body)
