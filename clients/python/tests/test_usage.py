"""Faaspot.usage(): the request and its answer."""

import datetime
import unittest

from faaspot.errors import BadRequest

from .fakeapi import APITestCase

DAY = {"date": "2025-03-01", "runs": {"completed": 2, "failed": 1, "timeout": 0}, "wall_seconds": 3.5,
       "gb_seconds": 0.4375, "cpu_seconds": 1.25, "builds": 1, "builds_failed": 0, "build_seconds": 12.5}
USAGE = {"tenant": "acme", "from": "2025-03-01", "to": "2025-03-01", "days": [DAY],
         "total": dict(DAY, date=None), "bytes_stored": 4096}


class UsageTest(APITestCase):

    def test_default_range(self):
        self.api.reply(200, USAGE)
        self.assertEqual(self.fs.usage(), USAGE)
        self.assertRequest(self.only_request(), "GET", "/v1/usage")

    def test_dates_and_strings(self):
        self.api.reply(200, USAGE)
        self.fs.usage(datetime.date(2025, 3, 1), "2025-03-31")
        self.assertRequest(self.only_request(), "GET", "/v1/usage", query={"from": "2025-03-01", "to": "2025-03-31"})

    def test_datetime_is_its_date(self):
        self.api.reply(200, USAGE)
        self.fs.usage(until=datetime.datetime(2025, 3, 2, 23, 59))
        self.assertRequest(self.only_request(), "GET", "/v1/usage", query={"to": "2025-03-02"})

    def test_refused_range(self):
        self.api.reply(400, {"error": {"code": "invalid_argument", "message": "bad range", "field": "to"}})
        with self.assertRaises(BadRequest) as cm:
            self.fs.usage("2025-03-02", "2025-03-01")
        self.assertEqual(cm.exception.field, "to")

    def test_wrong_type(self):
        with self.assertRaises(TypeError):
            self.fs.usage(since=20250301)
        self.assertEqual(self.api.requests, [])


if __name__ == "__main__":
    unittest.main()
