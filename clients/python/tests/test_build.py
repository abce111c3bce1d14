"""The in-tree PEP 517 backend (_build/faaspot_build.py): what the wheel and the sdist hold."""

import base64
import hashlib
import importlib
import os
import sys
import tarfile
import tempfile
import unittest
import zipfile

import faaspot

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def backend():
    sys.path.insert(0, os.path.join(ROOT, "_build"))
    try:
        return importlib.import_module("faaspot_build")
    finally:
        sys.path.pop(0)


class BackendTest(unittest.TestCase):

    def setUp(self):
        self.b = backend()
        out = tempfile.TemporaryDirectory()
        self.addCleanup(out.cleanup)
        self.out = out.name

    def test_requires_nothing(self):
        self.assertEqual(self.b.get_requires_for_build_wheel(), [])
        self.assertEqual(self.b.get_requires_for_build_sdist({}), [])

    def test_wheel(self):
        name = self.b.build_wheel(self.out)
        v = faaspot.__version__
        self.assertEqual(name, "faaspot-%s-py3-none-any.whl" % v)
        dist_info = "faaspot-%s.dist-info/" % v
        with zipfile.ZipFile(os.path.join(self.out, name)) as whl:
            names = whl.namelist()
            modules = sorted(n for n in os.listdir(os.path.join(ROOT, "faaspot")) if n.endswith(".py"))
            self.assertEqual(sorted(n for n in names if n.startswith("faaspot/")),
                             ["faaspot/" + m for m in modules])
            self.assertIn("faaspot/__init__.py", names)
            self.assertFalse([n for n in names if "tests" in n or "_build" in n or n.endswith(".pyc")], names)
            meta = whl.read(dist_info + "METADATA").decode()
            self.assertIn("Name: faaspot\n", meta)
            self.assertIn("Version: %s\n" % v, meta)
            self.assertIn("Requires-Python: >=3.8\n", meta)
            self.assertIn("Tag: py3-none-any", whl.read(dist_info + "WHEEL").decode())
            rows = [line.split(",") for line in whl.read(dist_info + "RECORD").decode().splitlines()]
            self.assertEqual(sorted(r[0] for r in rows), sorted(names))
            for path, digest, size in rows:
                if path == dist_info + "RECORD":
                    self.assertEqual((digest, size), ("", ""))
                    continue
                data = whl.read(path)
                want = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
                self.assertEqual(digest, "sha256=" + want, path)
                self.assertEqual(int(size), len(data), path)

    def test_wheel_is_reproducible(self):
        a = self.b.build_wheel(os.path.join(self.out, "a"))
        b = self.b.build_wheel(os.path.join(self.out, "b"))
        with open(os.path.join(self.out, "a", a), "rb") as fa, open(os.path.join(self.out, "b", b), "rb") as fb:
            self.assertEqual(fa.read(), fb.read())

    def test_sdist(self):
        name = self.b.build_sdist(self.out)
        base = "faaspot-%s" % faaspot.__version__
        self.assertEqual(name, base + ".tar.gz")
        with tarfile.open(os.path.join(self.out, name)) as tar:
            names = tar.getnames()
            for want in ("PKG-INFO", "pyproject.toml", "README.md", "_build/faaspot_build.py",
                         "faaspot/__init__.py", "faaspot/client.py", "tests/test_build.py"):
                self.assertIn(base + "/" + want, names)
            self.assertTrue(all(n.startswith(base + "/") for n in names))


if __name__ == "__main__":
    unittest.main()
