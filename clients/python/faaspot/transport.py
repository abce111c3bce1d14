"""HTTP to the faaspot API: JSON in, JSON out, the token on every request, API errors raised as
FaaspotError subclasses and network failures as Unreachable."""

import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.parse
import urllib.request

from . import errors
from .errors import FaaspotError, Unreachable

# The Go client's timeout: create with wait=True may wait for a build (up to 10 minutes).
DEFAULT_TIMEOUT = 15 * 60.0


class Answer(object):
    """An answer the caller takes as it is (2xx, or a status it asked for): status, headers and
    the raw body."""

    def __init__(self, status, headers, data):
        self.status = status
        self.headers = headers
        self.data = data

    def json(self):
        """The body decoded as JSON (None for an empty body)."""
        if not self.data.strip():
            return None
        try:
            return json.loads(self.data.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise FaaspotError("the server's answer is not JSON (%s): %r" % (e, self.data[:200]),
                               status=self.status) from None


class Transport(object):
    """Sends requests to one faaspot server as one tenant.

    Redirects are followed only within the origin (scheme, host and port) of the faaspot URL, with
    the token. A redirect to another origin -- another host or port, or http to https -- is
    refused before anything is sent to it: request() raises FaaspotError with code
    "cross_origin_redirect" and the redirect's status, naming the target, so that the token never
    leaves for a server the caller did not name (and a server that moved is fixed once, in the
    faaspot URL, rather than by a client that follows it without the token and fails with a 401).
    """

    def __init__(self, url, token, timeout=DEFAULT_TIMEOUT, user_agent="faaspot-python"):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FaaspotError("the faaspot URL must look like http://host:port, got %r" % url,
                               code="not_configured")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.user_agent = user_agent
        # Like Go's ProxyFromEnvironment: a loopback server is never reached through a proxy.
        handlers = [urllib.request.ProxyHandler({})] if _is_loopback(parts.hostname) else []
        self._opener = urllib.request.build_opener(_SameOriginRedirects(), *handlers)

    def request(self, method, path, body=None, query=None, answer_statuses=(), headers=None):
        """Sends method path (with query, a dict, body, encoded as JSON unless None, and headers,
        a dict of extra request headers) and returns the Answer when it is 2xx or its status is in
        answer_statuses; other answers raise the matching FaaspotError. The extra headers cannot
        replace the token, Accept or User-Agent, nor the Content-Type of a body.

        Errors are raised without the urllib exception chained to them (``raise ... from None``):
        their message says what failed, and a traceback shows the caller's line rather than
        urllib's internals. The original exception stays reachable as ``__context__``."""
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode([(k, v) for k, v in query.items() if v is not None])
        data = None
        sent = dict(headers or {})
        sent.update({"Authorization": "Token " + self.token, "Accept": "application/json",
                     "User-Agent": self.user_agent})
        if body is not None:
            data = _encode(body)
            sent["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, headers=sent, method=method)
        try:
            with self._opener.open(req, timeout=self.timeout) as resp:
                return Answer(resp.status, resp.headers, resp.read())
        except FaaspotError as e:
            # A refused redirect, raised inside urllib: shown from here, without urllib's frames.
            raise e.with_traceback(None) from None
        except urllib.error.HTTPError as e:
            try:
                payload = e.read()
            except (OSError, http.client.HTTPException):
                payload = b""
            finally:
                e.close()
            if e.code in answer_statuses:
                return Answer(e.code, e.headers, payload)
            raise errors.from_answer(e.code, payload) from None
        except urllib.error.URLError as e:
            raise self._unreachable(e.reason) from None
        except socket.timeout:
            raise Unreachable("no answer from faaspot at %s within %gs" % (self.url, self.timeout)) from None
        except (OSError, http.client.HTTPException) as e:
            raise self._unreachable(e) from None

    def _unreachable(self, reason):
        if isinstance(reason, socket.timeout):
            return Unreachable("no answer from faaspot at %s within %gs" % (self.url, self.timeout))
        return Unreachable("cannot reach faaspot at %s: %s" % (self.url, reason or "unknown error"))


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """urllib's redirect handling (methods, loop limits) restricted to the origin of the request
    being redirected: any other target raises FaaspotError before a connection is made to it.
    Since every hop must stay within the origin of the one before, a chain of redirects never
    leaves the faaspot URL's origin."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if not _same_origin(req.full_url, newurl):
            target = _origin_text(newurl) + urllib.parse.urlsplit(newurl).path
            fp.close()
            raise FaaspotError(
                "the server at %s redirected (HTTP %d) to %s, another origin: the client follows "
                "redirects only within the faaspot URL's scheme, host and port, so that the token "
                "is never sent elsewhere; if faaspot moved there, set the faaspot URL to it"
                % (_origin_text(req.full_url), code, target),
                status=code, code="cross_origin_redirect")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(url):
    """(scheme, host, port) of url, lower-cased, the scheme's default port filled in; None when
    url has no host or an invalid port."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def _same_origin(a, b):
    """Whether URLs a and b share scheme, host and port (http://h and http://h:80 do)."""
    oa = _origin(a)
    return oa is not None and oa == _origin(b)


def _origin_text(url):
    """scheme://host:port of url, without credentials."""
    parts = urllib.parse.urlsplit(url)
    return "%s://%s" % (parts.scheme, parts.netloc.rpartition("@")[2])


def _encode(body):
    """body as JSON in UTF-8 (non-ASCII text unescaped; escaped only if it cannot be UTF-8)."""
    try:
        return json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(body).encode("ascii")


def _is_loopback(host):
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def segment(value, what="name"):
    """value (a deployment name or an execution id) percent-encoded as one path segment, so that
    no character of it can change the route."""
    if not isinstance(value, str) or not value:
        raise ValueError("the %s must be a non-empty string, not %r" % (what, value))
    return urllib.parse.quote(value, safe="")
