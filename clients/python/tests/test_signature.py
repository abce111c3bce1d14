"""faaspot.verify_signature: the X-Faaspot-Signature of a callback, checked as the server's Go
code (faaspot.VerifyCallback) checks it, on the same vector."""

import datetime
import hashlib
import hmac
import time
import unittest

import faaspot
from faaspot import FaaspotError, SignatureError, verify_signature

SECRET = "s3cret"
T = 1700000000
BODY = b'{"id":"x"}'
# What Go's faaspot.SignCallback("s3cret", time.Unix(1700000000, 0), []byte(`{"id":"x"}`)) gives
# (pinned in client/webhooks_test.go too).
GO_V1 = "2382c1d0968a5e57238c68de957f44d87e83d3049a5588ec251442ca372b8aec"
HEADER = "t=%d,v1=%s" % (T, GO_V1)


def sign(secret, t, body):
    return "t=%d,v1=%s" % (t, hmac.new(secret.encode("utf-8"), b"%d." % t + body, hashlib.sha256).hexdigest())


class VectorTest(unittest.TestCase):

    def test_hmac_gives_the_go_signature(self):
        v1 = hmac.new(b"s3cret", b'1700000000.{"id":"x"}', hashlib.sha256).hexdigest()
        self.assertEqual(v1, GO_V1)
        self.assertEqual(sign(SECRET, T, BODY), HEADER)

    def test_the_go_header_verifies(self):
        self.assertIs(verify_signature(SECRET, HEADER, BODY, now=T), True)

    def test_exports(self):
        self.assertIs(faaspot.verify_signature, verify_signature)
        self.assertEqual(faaspot.SIGNATURE_HEADER, "X-Faaspot-Signature")
        self.assertTrue(issubclass(SignatureError, FaaspotError))
        for name in ("verify_signature", "SignatureError", "SIGNATURE_HEADER"):
            self.assertIn(name, faaspot.__all__)


class VerifyTest(unittest.TestCase):

    def test_accepted(self):
        cases = [
            ("as signed", SECRET, HEADER, BODY, {"now": T}),
            ("at the tolerance", SECRET, HEADER, BODY, {"now": T + 300}),
            ("signed ahead, at the tolerance", SECRET, HEADER, BODY, {"now": T - 300}),
            ("a tolerance of its own", SECRET, HEADER, BODY, {"now": T + 3600, "tolerance": 3600}),
            ("a float now", SECRET, HEADER, BODY, {"now": T + 299.999}),
            ("an aware datetime", SECRET, HEADER, BODY,
             {"now": datetime.datetime.fromtimestamp(T + 10, datetime.timezone.utc)}),
            ("a str body", SECRET, HEADER, BODY.decode(), {"now": T}),
            ("a bytearray body", SECRET, HEADER, bytearray(BODY), {"now": T}),
            ("a memoryview body", SECRET, HEADER, memoryview(BODY), {"now": T}),
            ("a bytes secret", SECRET.encode(), HEADER, BODY, {"now": T}),
            ("a bytes header", SECRET, HEADER.encode(), BODY, {"now": T}),
            ("among other signatures", SECRET, "t=%d, v1=00, v1=%s ,v0=zz" % (T, GO_V1), BODY, {"now": T}),
            ("the last t counts", SECRET, "t=1,v1=%s,t=%d" % (GO_V1, T), BODY, {"now": T}),
            ("a non-ASCII secret and body", "clé", sign("clé", T, "é".encode()), "é", {"now": T}),
        ]
        for name, secret, header, body, kwargs in cases:
            with self.subTest(name):
                self.assertIs(verify_signature(secret, header, body, **kwargs), True)

    def test_now_defaults_to_the_clock(self):
        t = int(time.time())
        self.assertIs(verify_signature(SECRET, sign(SECRET, t, BODY), BODY), True)
        with self.assertRaises(SignatureError):
            verify_signature(SECRET, sign(SECRET, t - 3600, BODY), BODY)

    def test_refused(self):
        cases = [
            ("too old", SECRET, HEADER, BODY, {"now": T + 301}, "signed 301s ago, more than the tolerance of 300s"),
            ("too far ahead", SECRET, HEADER, BODY, {"now": T - 301}, "signed 301s ahead of now"),
            ("a tolerance of 0", SECRET, HEADER, BODY, {"now": T + 1, "tolerance": 0}, "signed 1s ago, more than the tolerance of 0s"),
            ("another body", SECRET, HEADER, b'{"id":"y"}', {"now": T}, "no matching v1 signature"),
            ("a body re-encoded", SECRET, HEADER, b'{"id": "x"}', {"now": T}, "no matching v1 signature"),
            ("another secret", "s3cret2", HEADER, BODY, {"now": T}, "no matching v1 signature"),
            ("upper-case hex", SECRET, "t=%d,v1=%s" % (T, GO_V1.upper()), BODY, {"now": T}, "no matching v1 signature"),
            ("a non-ASCII signature", SECRET, "t=%d,v1=\u00e9" % T, BODY, {"now": T}, "no matching v1 signature"),
            ("another scheme only", SECRET, "t=%d,v0=%s" % (T, GO_V1), BODY, {"now": T}, "malformed header"),
            ("no header", SECRET, None, BODY, {"now": T}, "no X-Faaspot-Signature header"),
            ("an empty header", SECRET, "", BODY, {"now": T}, "malformed header"),
            ("no t", SECRET, "v1=" + GO_V1, BODY, {"now": T}, "malformed header"),
            ("no v1", SECRET, "t=%d" % T, BODY, {"now": T}, "malformed header"),
            ("a t that is no number", SECRET, "t=soon,v1=" + GO_V1, BODY, {"now": T}, "malformed header"),
            ("a t with a fraction", SECRET, "t=1700000000.5,v1=" + GO_V1, BODY, {"now": T}, "malformed header"),
            ("a t with underscores", SECRET, "t=1_700_000_000,v1=" + GO_V1, BODY, {"now": T}, "malformed header"),
            ("a t past int64", SECRET, "t=9223372036854775808,v1=" + GO_V1, BODY, {"now": T}, "malformed header"),
            ("garbage", SECRET, "sha256=abc", BODY, {"now": T}, "malformed header"),
        ]
        for name, secret, header, body, kwargs, detail in cases:
            with self.subTest(name):
                with self.assertRaises(SignatureError) as cm:
                    verify_signature(secret, header, body, **kwargs)
                self.assertIn("callback signature does not verify", str(cm.exception))
                self.assertIn(detail, str(cm.exception))

    def test_bad_arguments(self):
        cases = [
            ({"secret": None}, TypeError, "secret must be a str"),
            ({"secret": ""}, ValueError, "secret must not be empty"),
            ({"body": {"id": "x"}}, TypeError, "body must be the raw request body"),
            ({"header": 7}, TypeError, "header must be a str"),
            ({"tolerance": -1}, ValueError, "tolerance must be 0 or more"),
            ({"tolerance": float("nan")}, ValueError, "tolerance must be 0 or more"),
            ({"tolerance": "300"}, TypeError, "tolerance must be a number"),
            ({"now": float("nan")}, ValueError, "now must be a finite number"),
            ({"now": True}, TypeError, "now must be a number"),
            ({"now": datetime.datetime(2023, 11, 14, 22, 13, 20)}, ValueError, "now must be an aware datetime"),
        ]
        for override, cls, detail in cases:
            args = {"secret": SECRET, "header": HEADER, "body": BODY, "now": T}
            args.update(override)
            with self.subTest(override=override):
                with self.assertRaises(cls) as cm:
                    verify_signature(**args)
                self.assertIn(detail, str(cm.exception))


if __name__ == "__main__":
    unittest.main()
