"""Faaspot: the client object, holding the connection settings, the two resources and the
tenant's webhook secret."""

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

    def __repr__(self):
        return "Faaspot(url=%r)" % self.url
