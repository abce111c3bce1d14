"""Where the client finds the server's URL and the tenant's token.

Each setting is taken from, in order: the argument given to Faaspot(), the environment
(FAASPOT_URL, FAASPOT_TOKEN), then the file ~/.faaspot/config.json ({"url": ..., "token": ...}),
which `make run` (faaspotd with a dev tenant) writes.
"""

import json
import os

from .errors import FaaspotError

ENV_URL = "FAASPOT_URL"
ENV_TOKEN = "FAASPOT_TOKEN"

HOW_TO = ("set FAASPOT_URL and FAASPOT_TOKEN in the environment, write ~/.faaspot/config.json as "
          '{"url": "http://127.0.0.1:8080", "token": "fs_..."}, or pass Faaspot(url=..., token=...)')


def config_path():
    """The path of the client configuration file: ~/.faaspot/config.json."""
    return os.path.join(os.path.expanduser("~"), ".faaspot", "config.json")


def read_file(path):
    """The settings of the configuration file at path, {} when there is none."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise FaaspotError("cannot read the faaspot configuration %s: %s; %s" % (path, e, HOW_TO),
                           code="not_configured") from None
    if not isinstance(data, dict):
        raise FaaspotError('the faaspot configuration %s must be a JSON object {"url": ..., "token": ...}'
                           % path, code="not_configured")
    return data


def resolve(url=None, token=None):
    """(url, token) from the arguments, the environment and the configuration file, in that
    order. A setting found nowhere raises FaaspotError saying how to configure the client."""
    url = url or os.environ.get(ENV_URL) or None
    token = token or os.environ.get(ENV_TOKEN) or None
    path = None
    if not url or not token:
        path = config_path()
        data = read_file(path)
        url = url or _text(data.get("url"), "url", path)
        token = token or _text(data.get("token"), "token", path)
    missing = [name for name, value in (("URL", url), ("token", token)) if not value]
    if missing:
        raise FaaspotError("faaspot is not configured: no %s found (looked at the arguments, %s, "
                           "and %s); %s" % (" and no ".join(missing),
                                             " and ".join((ENV_URL, ENV_TOKEN)), path, HOW_TO),
                           code="not_configured")
    return url.strip(), token.strip()


def _text(value, key, path):
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise FaaspotError("%s in the faaspot configuration %s must be a string" % (key, path),
                           code="not_configured")
    return value
