"""faaspot's dependency stages: run by the image builder in throwaway build containers, never
baked into an image.

Protocol. stdin starts with one JSON line:
  {"phase": "fetch" | "install", "requirements": "<requirements.txt text>",
   "source": <bool: source distributions allowed>, "index_url": "<index, fetch only>"}
For "install" the rest of stdin is a tar of the fetched distributions. stdout carries one tar:
the fetched distributions (fetch) or the installed site directory (install). Everything else,
pip's output included, goes to stderr. A failure ends with one line "FAASPOT-BUILD: <message>"
on stderr and exit status 1 (the builder prefixes the message with what failed).

The fetch stage has the build network and the index but never runs a distribution's code:
wheels are downloaded by pip (--only-binary=:all:); a source distribution is downloaded by
fetch_sdist below, because `pip download` runs an sdist's setup.py to read its metadata. The
install stage has no network and no index: it installs from the fetched files only, and builds
source distributions (running their code) only when they were allowed.
"""

import base64
import hashlib
import html.parser
import json
import os
import re
import subprocess
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request

PREFIX = "FAASPOT-BUILD: "
WORK = os.environ.get("FAASPOT_STAGE_DIR", "/tmp/faaspot")
DIST = os.path.join(WORK, "dist")
SITE = os.path.join(WORK, "site")
REQS = os.path.join(WORK, "requirements.txt")
PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--no-cache-dir"]
DEFAULT_INDEX = "https://pypi.org/simple"
BACKENDS = ["setuptools", "wheel"]  # what a setup.py-only sdist builds with


class Failure(Exception):
    """A failure of the stage, its message meant for the deployment's owner."""


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


def pip(args, env=None):
    """Runs pip, its output to stderr; returns (exit status, output)."""
    proc = subprocess.run(PIP + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, env=dict(os.environ, **(env or {})))
    out = proc.stdout.decode("utf-8", "replace")
    sys.stderr.write(out)
    sys.stderr.flush()
    return proc.returncode, out


def requirement_lines(text):
    """The requirement lines of a requirements text (validated by the daemon: no options)."""
    for raw in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", raw).strip()
        if line:
            yield line


def pip_errors(out):
    """pip's error lines (pip writes "ERROR: …", and "error: …" for a failed build)."""
    lines = [l.strip() for l in out.splitlines() if l.strip().lower().startswith("error:")]
    return " ".join(lines) or "see the build log"


def unreachable(out):
    return any(s in out for s in ("NewConnectionError", "Max retries exceeded", "Could not fetch URL"))


def no_wheel(out, source):
    """The message of a failed wheels-only download."""
    names = re.findall(r"No matching distribution found for (\S+)", out)
    if unreachable(out):
        return "the package index could not be reached: " + pip_errors(out)
    if not names:
        return "downloading them failed: " + pip_errors(out)
    what = ", ".join(sorted(set(names)))
    if source:
        return "no distribution of %s was found on the package index" % what
    return ("no wheel of %s is available on the package index for this platform; this server "
            "installs wheels only and does not build source distributions" % what)


class Links(html.parser.HTMLParser):
    """The anchors of a PEP 503 project page: (href, attributes)."""

    def __init__(self):
        super().__init__()
        self.links = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append((attrs["href"], attrs))


class Index:
    """A PEP 503 index; credentials in its URL go in a header to its own host only."""

    def __init__(self, url):
        parts = urllib.parse.urlsplit(url or DEFAULT_INDEX)
        self.auth = None
        if parts.username is not None:
            user = urllib.parse.unquote(parts.username)
            password = urllib.parse.unquote(parts.password or "")
            self.auth = "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
        host = "[%s]" % parts.hostname if ":" in parts.hostname else parts.hostname
        netloc = host + (":%d" % parts.port if parts.port else "")
        self.url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/", "", ""))
        self.origin = (parts.scheme, netloc)

    def get(self, url):
        req = urllib.request.Request(url, headers={"Accept": "text/html"})
        parts = urllib.parse.urlsplit(url)
        if self.auth and (parts.scheme, parts.netloc) == self.origin:
            req.add_unredirected_header("Authorization", self.auth)  # never sent on a redirect
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.geturl(), resp.read()


def fetch_sdist(line, index):
    """Downloads the newest source distribution that satisfies the requirement line, without
    running any of its code. Its own dependencies are not fetched."""
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name
    from pip._vendor.packaging.version import InvalidVersion, Version

    req = Requirement(line)
    if req.marker is not None and not req.marker.evaluate():
        return
    name = canonicalize_name(req.name)
    try:
        page, body = index.get(index.url + name + "/")
    except urllib.error.HTTPError as e:
        if e.code == 404:
            raise Failure("no distribution of %s was found on the package index" % line) from None
        raise Failure("the package index answered %d for %s" % (e.code, req.name)) from None
    parser = Links()
    parser.feed(body.decode("utf-8", "replace"))
    found = {}
    for href, attrs in parser.links:
        url = urllib.parse.urljoin(page, href)
        fname = urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
        stem = next((fname[:-len(e)] for e in (".tar.gz", ".zip") if fname.endswith(e)), None)
        if stem is None or "-" not in stem or "data-yanked" in attrs or "/" in fname:
            continue
        project, version = stem.rsplit("-", 1)
        try:
            if canonicalize_name(project) == name:
                found[Version(version)] = (url, fname)
        except InvalidVersion:
            continue
    allowed = list(req.specifier.filter(found))
    if not allowed:
        raise Failure("no distribution of %s was found on the package index" % line)
    url, fname = found[max(allowed)]
    _, data = index.get(url)
    want = urllib.parse.urlsplit(url).fragment
    if want.startswith("sha256=") and hashlib.sha256(data).hexdigest() != want[len("sha256="):]:
        raise Failure("the download of %s does not match its index hash" % fname)
    with open(os.path.join(DIST, fname), "wb") as f:
        f.write(data)
    log("Saved source distribution %s" % fname)


def fetch(job):
    env = {"PIP_INDEX_URL": job["index_url"]} if job.get("index_url") else {}
    code, out = pip(["download", "--only-binary=:all:", "-d", DIST, "-r", REQS], env)
    if code != 0 and not job.get("source"):
        raise Failure(no_wheel(out, False))
    if code != 0:
        if unreachable(out):
            raise Failure(no_wheel(out, True))
        index = Index(job.get("index_url"))
        for line in requirement_lines(job["requirements"]):
            if pip(["download", "--only-binary=:all:", "-d", DIST, line], env)[0] != 0:
                fetch_sdist(line, index)
    if job.get("source"):
        pip(["download", "--only-binary=:all:", "-d", DIST] + BACKENDS, env)  # best effort


def install(job):
    with tarfile.open(fileobj=sys.stdin.buffer, mode="r|") as tf:
        for member in tf:
            name = os.path.basename(member.name)
            if member.isfile() and name and not name.startswith("."):
                with open(os.path.join(DIST, name), "wb") as f:
                    f.write(tf.extractfile(member).read())
    args = ["install", "--no-index", "--find-links", DIST, "--target", SITE,
            "--no-warn-script-location", "-r", REQS]
    if not job.get("source"):
        args.insert(1, "--only-binary=:all:")
    elif not any(f.startswith("setuptools-") for f in os.listdir(DIST)):
        args.append("--no-build-isolation")  # no setuptools fetched: the image's own
    code, out = pip(args)
    if code != 0:
        raise Failure(pip_errors(out))


def write_tar(directory):
    with tarfile.open(fileobj=sys.stdout.buffer, mode="w|") as tf:
        for entry in sorted(os.listdir(directory)):
            tf.add(os.path.join(directory, entry), arcname=entry)
    sys.stdout.flush()


def main():
    job = json.loads(sys.stdin.buffer.readline())
    for d in (DIST, SITE):
        os.makedirs(d, exist_ok=True)
    with open(REQS, "w") as f:
        f.write(job["requirements"])
    try:
        if job["phase"] == "fetch":
            fetch(job)
            write_tar(DIST)
        else:
            install(job)
            write_tar(SITE)
    except Failure as e:
        log(PREFIX + str(e))
        return 1
    except Exception as e:  # the stage's own failure: name it, never a raw traceback
        log(PREFIX + "the %s stage failed: %s: %s" % (job.get("phase"), type(e).__name__, e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
