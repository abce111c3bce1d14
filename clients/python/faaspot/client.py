"""Faaspot: the client object, holding the connection settings, the two resources and the
tenant's webhook secret."""

import datetime

from . import config, webhooks
from .deployments import Deployments
from .executions import Executions
from .transport import DEFAULT_TIMEOUT, Transport


class Faaspot(object):
    """A client of one faaspot server, as one tenant.

    Faaspot() takes the URL and token from FAASPOT_URL and FAASPOT_TOKEN, else from
    ~/.faaspot/config.json; Faaspot(url=..., token=...) overrides them. timeout bounds each HTTP
    request, in seconds.
    """

    def __init__(self, url=None, token=None, timeout=DEFAULT_TIMEOUT):
        from . import __version__

        self.url, token = config.resolve(url, token)
        self._transport = Transport(self.url, token, timeout=timeout,
                                    user_agent="faaspot-python/" + __version__)
        self.executions = Executions(self._transport)
        self.deployments = Deployments(self._transport, self.executions)

    def webhook_secret(self):
        """The tenant's webhook secret (a str), which the server creates on first use: the key
        that signs the callbacks of its runs; check one with faaspot.verify_signature."""
        return webhooks.secret(self._transport)

    def rotate_webhook_secret(self):
        """Replaces the tenant's webhook secret with a new one and returns it: the callbacks sent
        from then on are signed with it."""
        return webhooks.secret(self._transport, rotate=True)

    def usage(self, since=None, until=None):
        """The tenant's usage per UTC day from since to until, both included: a dict with
        "tenant", "from", "to", "days" (each {"date", "runs": {"completed", "failed", "timeout"},
        "wall_seconds", "gb_seconds", "cpu_seconds", "builds", "builds_failed",
        "build_seconds"}, oldest first, days without use included), "total" (the same without a
        date) and "bytes_stored" (the bytes of the tenant's records held now). since and until
        are datetime.date objects or "YYYY-MM-DD" strings; None leaves them to the server
        (until today, since 29 days before until). BadRequest for a date that does not parse, or
        a range backwards or over 366 days: GET /v1/usage."""
        query = {"from": _day(since, "since"), "to": _day(until, "until")}
        return self._transport.request("GET", "/v1/usage", query=query).json()

    def __repr__(self):
        return "Faaspot(url=%r)" % self.url


def _day(value, name):
    """value as a query's YYYY-MM-DD (a date, a datetime's date, or a str as it is), or None."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime.date):
        return value.strftime("%Y-%m-%d")
    raise TypeError("%s must be a datetime.date or a YYYY-MM-DD str, not %r" % (name, value))
