import json
import os
import tempfile
import unittest
from unittest import mock

from faaspot import Faaspot, FaaspotError

from .fakeapi import FakeAPI


class ConfigTest(unittest.TestCase):
    """Where Faaspot() finds the URL and token: arguments, then environment, then
    ~/.faaspot/config.json (in a temporary HOME)."""

    def setUp(self):
        home = tempfile.TemporaryDirectory()
        self.addCleanup(home.cleanup)
        self.home = home.name
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FAASPOT_")}
        self.env["HOME"] = self.home
        patcher = mock.patch.dict(os.environ, self.env, clear=True)
        patcher.start()
        self.addCleanup(patcher.stop)
        self.api = FakeAPI().start()
        self.addCleanup(self.api.close)

    def write_config(self, data):
        os.makedirs(os.path.join(self.home, ".faaspot"))
        path = os.path.join(self.home, ".faaspot", "config.json")
        with open(path, "w") as f:
            f.write(data if isinstance(data, str) else json.dumps(data))
        return path

    def token_sent(self, fs):
        """The token fs sends, read off a request to the fake API."""
        self.api.reply(200, [])
        fs.deployments.list()
        return self.api.requests[-1].headers["Authorization"]

    def test_environment(self):
        os.environ.update(FAASPOT_URL=self.api.url, FAASPOT_TOKEN="env-token")
        fs = Faaspot()
        self.assertEqual(fs.url, self.api.url)
        self.assertEqual(self.token_sent(fs), "Token env-token")

    def test_config_file(self):
        self.write_config({"url": self.api.url + "/", "token": "file-token"})
        fs = Faaspot()
        self.assertEqual(fs.url, self.api.url + "/")
        self.assertEqual(self.token_sent(fs), "Token file-token")
        self.assertEqual(self.api.requests[-1].path, "/v1/deployments")  # no double slash

    def test_environment_wins_over_file(self):
        self.write_config({"url": "http://127.0.0.1:1", "token": "file-token"})
        os.environ.update(FAASPOT_URL=self.api.url, FAASPOT_TOKEN="env-token")
        fs = Faaspot()
        self.assertEqual(fs.url, self.api.url)
        self.assertEqual(self.token_sent(fs), "Token env-token")

    def test_each_setting_falls_back_on_its_own(self):
        self.write_config({"url": "http://127.0.0.1:1", "token": "file-token"})
        os.environ["FAASPOT_URL"] = self.api.url
        fs = Faaspot()
        self.assertEqual(fs.url, self.api.url)
        self.assertEqual(self.token_sent(fs), "Token file-token")

    def test_arguments_win(self):
        self.write_config({"url": "http://127.0.0.1:1", "token": "file-token"})
        os.environ.update(FAASPOT_URL="http://127.0.0.1:2", FAASPOT_TOKEN="env-token")
        fs = Faaspot(url=self.api.url, token="arg-token")
        self.assertEqual(fs.url, self.api.url)
        self.assertEqual(self.token_sent(fs), "Token arg-token")

    def test_missing_configuration_says_how_to_configure(self):
        with self.assertRaises(FaaspotError) as cm:
            Faaspot()
        msg = str(cm.exception)
        for part in ("not configured", "FAASPOT_URL", "FAASPOT_TOKEN", "~/.faaspot/config.json",
                     "Faaspot(url=..., token=...)"):
            self.assertIn(part, msg)
        self.assertEqual(cm.exception.code, "not_configured")

    def test_missing_token(self):
        os.environ["FAASPOT_URL"] = self.api.url
        with self.assertRaises(FaaspotError) as cm:
            Faaspot()
        self.assertIn("no token", str(cm.exception))
        self.assertNotIn("no URL", str(cm.exception))

    def test_malformed_file(self):
        path = self.write_config("{not json")
        with self.assertRaises(FaaspotError) as cm:
            Faaspot()
        self.assertIn(path, str(cm.exception))
        with open(path, "w") as f:  # JSON, but not an object
            f.write("[1]")
        with self.assertRaises(FaaspotError) as cm:
            Faaspot()
        self.assertIn("JSON object", str(cm.exception))

    def test_bad_url(self):
        with self.assertRaises(FaaspotError) as cm:
            Faaspot(url="127.0.0.1:8080", token="t")
        self.assertIn("http://host:port", str(cm.exception))

    def test_repr_hides_the_token(self):
        fs = Faaspot(url=self.api.url, token="secret-token")
        self.assertNotIn("secret-token", repr(fs))


if __name__ == "__main__":
    unittest.main()
