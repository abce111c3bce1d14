"""faaspot.webhooks: the tenant's webhook secret, which signs the callbacks of its runs, and
verify_signature, which checks a callback where it is received.

A run with a callback URL (deployments.run(..., callback_url=...) or a deployment created with
one) has its record POSTed there once it has ended, with the header

    X-Faaspot-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>

where the key is the secret's UTF-8 bytes and body the raw bytes of the request body.
"""

import datetime
import hashlib
import hmac
import math
import numbers
import re
import time

from . import errors

# The header that signs a callback.
SIGNATURE_HEADER = "X-Faaspot-Signature"

# How far, in seconds, a callback's time may be from the receiver's clock by default.
DEFAULT_TOLERANCE = 300

_SECRET_PATH = "/v1/webhook-secret"

# A signature's time: what Go's strconv.ParseInt accepts, so that both sides read the same
# headers the same way (the signed text holds the time as it is written).
_TIMESTAMP = re.compile(r"[+-]?[0-9]+\Z")


def secret(transport, rotate=False):
    """The tenant's webhook secret: GET /v1/webhook-secret (created on first use), or with rotate
    POST, which replaces it with a new one."""
    answer = transport.request("POST" if rotate else "GET", _SECRET_PATH).json()
    value = answer.get("secret") if isinstance(answer, dict) else None
    if not isinstance(value, str) or not value:
        raise errors.FaaspotError("the answer of %s holds no secret: %r" % (_SECRET_PATH, answer))
    return value


def verify_signature(secret, header, body, tolerance=DEFAULT_TOLERANCE, now=None):
    """Checks a callback's X-Faaspot-Signature header against its raw body and returns True, or
    raises SignatureError when the header is missing (None) or malformed, when its time t is more
    than tolerance seconds from now (an old delivery replayed, or a clock far off), or when no v1
    signature in it is the HMAC-SHA256 of "<t>.<body>" keyed by secret.

    secret is the tenant's webhook secret (a str, used as its UTF-8 bytes; or bytes). body is the
    request body exactly as received: bytes (a str is taken as its UTF-8 encoding); verify it
    before decoding the JSON. tolerance is in seconds; now is the time to check t against, in
    seconds since the epoch or as an aware datetime (default: time.time()). The signatures are
    compared in constant time. TypeError or ValueError for arguments of another kind, or an empty
    secret.

        body = request.get_data()   # the raw bytes, before any JSON decoding
        faaspot.verify_signature(secret, request.headers.get("X-Faaspot-Signature"), body)
        record = json.loads(body)
    """
    key = _key(secret)
    body = _body(body)
    tolerance = _seconds("tolerance", tolerance)
    if not tolerance >= 0:  # NaN fails too
        raise ValueError("tolerance must be 0 or more seconds, not %r" % tolerance)
    now = time.time() if now is None else _now(now)
    ts, sigs = _parse(header)
    drift = now - int(ts)
    if abs(drift) > tolerance:
        when = "%ds ago" % round(drift) if drift > 0 else "%ds ahead of now" % round(-drift)
        raise errors.SignatureError("callback signature does not verify: signed %s, more than the tolerance of %gs"
                                    % (when, tolerance))
    want = hmac.new(key, ts.encode("ascii") + b"." + body, hashlib.sha256).hexdigest().encode("ascii")
    matched = False
    for sig in sigs:
        # Every signature is compared, so that the time taken says nothing of which one matched.
        matched |= hmac.compare_digest(want, sig.encode("utf-8", "replace"))
    if not matched:
        raise errors.SignatureError("callback signature does not verify: no matching v1 signature")
    return True


def _parse(header):
    """(t, [v1, ...]) of a signature header, t as written; SignatureError when it has no valid t
    or no v1. Like the server's own check: parts split on commas, the last t counts."""
    if header is None:
        raise errors.SignatureError("callback signature does not verify: no %s header" % SIGNATURE_HEADER)
    if isinstance(header, (bytes, bytearray)):
        header = bytes(header).decode("latin-1")
    if not isinstance(header, str):
        raise TypeError("header must be a str, not %s" % type(header).__name__)
    ts, sigs = None, []
    for part in header.split(","):
        k, _, v = part.strip().partition("=")
        if k == "t":
            ts = v
        elif k == "v1":
            sigs.append(v)
    if ts is None or not _TIMESTAMP.match(ts) or not -2 ** 63 <= int(ts) < 2 ** 63 or not sigs:
        raise errors.SignatureError("callback signature does not verify: malformed header %r" % header[:200])
    return ts, sigs


def _key(secret):
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    elif isinstance(secret, (bytes, bytearray)):
        secret = bytes(secret)
    else:
        raise TypeError("secret must be a str, not %s" % type(secret).__name__)
    if not secret:
        raise ValueError("secret must not be empty: pass the tenant's webhook secret")
    return secret


def _body(body):
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    raise TypeError("body must be the raw request body, bytes, not %s" % type(body).__name__)


def _seconds(name, value):
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError("%s must be a number of seconds, not %s" % (name, type(value).__name__))
    return float(value)


def _now(now):
    if isinstance(now, datetime.datetime):
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime (with a tzinfo), or seconds since the epoch")
        return now.timestamp()
    now = _seconds("now", now)
    if not math.isfinite(now):
        raise ValueError("now must be a finite number of seconds since the epoch, not %r" % now)
    return now
