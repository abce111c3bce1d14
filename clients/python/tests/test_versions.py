"""faaspot.deployments.versions(name): the request and its answer."""

import unittest

from faaspot.errors import NotFound

from .fakeapi import APITestCase

VERSIONS = [
    {"version": 2, "status": "failed", "error": "no main", "ready": False, "hash": "ab" * 32,
     "limits": {"memory_mb": 256, "cpus": 1, "timeout_s": 30}, "context_keys": [],
     "created_at": "2025-03-01T12:00:00Z", "finished_at": "2025-03-01T12:01:00Z"},
    {"version": 1, "status": "ready", "ready": True, "hash": "cd" * 32,
     "limits": {"memory_mb": 256, "cpus": 1, "timeout_s": 30}, "context_keys": ["key"],
     "created_at": "2025-03-01T11:00:00Z", "finished_at": "2025-03-01T11:01:00Z"},
]


class VersionsTest(APITestCase):

    def test_versions(self):
        self.api.reply(200, VERSIONS)
        got = self.fs.deployments.versions("hello")
        self.assertEqual(got, VERSIONS)
        self.assertRequest(self.only_request(), "GET", "/v1/deployments/hello/versions")

    def test_versions_escapes_the_name(self):
        self.api.reply(200, [])
        self.assertEqual(self.fs.deployments.versions("a b"), [])
        self.assertEqual(self.only_request().path, "/v1/deployments/a%20b/versions")

    def test_versions_of_unknown_deployment(self):
        self.api.reply(404, {"error": {"code": "not_found", "message": 'deployment "nope" not found'}})
        with self.assertRaises(NotFound):
            self.fs.deployments.versions("nope")


if __name__ == "__main__":
    unittest.main()
