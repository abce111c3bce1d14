"""faaspot runner: baked into every deployment image at /opt/faaspot/runner.py.

Serve mode (no arguments, or --serve process|fork): imports the function module, writes a
{"ready": true} line, then answers requests until stdin ends: each request is one JSON line
{"args", "context", "output_limit", "result_limit"} on stdin, each answer one result frame, a
single JSON line, on the original stdout. What the function prints (fd 1 and 2) is captured apart
through pipes, capped at output_limit bytes each, so it can never be mistaken for a frame; stdin
is /dev/null for the function. A container used for one run simply gets one request.

Check mode (--check PATH, or --check - to read the code from stdin): validates at build time
that the code defines main(args, context); on failure prints one line
"FAASPOT-CHECK: <message>" and exits 3.

Works on Python 3.8 and later, standard library only.
"""
import json
import os
import signal
import sys
import threading
import traceback

FUNCTION_PATH = "/opt/faaspot/function/main.py"
SITE_DIR = "/opt/faaspot/site"
TMP_DIR = "/tmp"
CHECK_PREFIX = "FAASPOT-CHECK: "


def check(path):
    """Return None when the module at path ("-": stdin) defines a usable main, else a message."""
    import ast  # only the build-time check needs it: keep it out of every run's start-up
    try:
        if path == "-":
            source = sys.stdin.buffer.read()
        else:
            with open(path, "rb") as f:
                source = f.read()
        tree = ast.parse(source, filename="main.py")
    except SyntaxError as e:
        return "the code has a syntax error at line %s: %s" % (e.lineno, e.msg)
    except ValueError as e:
        return "the code cannot be parsed: %s" % e
    found = None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "main":
            found = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.Import, ast.ImportFrom)):
            targets = _bound_names(node)
            if "main" in targets:
                found = "bound"
    if found is None:
        return "the code defines no main(args, context) function at module level"
    if found == "bound":
        return None
    a = found.args
    positional = list(getattr(a, "posonlyargs", [])) + list(a.args)
    required = len(positional) - len(a.defaults)
    if (len(positional) < 2 and a.vararg is None) or required > 2 or \
            any(d is None for d in a.kw_defaults):
        names = [p.arg for p in positional]
        return "main must accept two arguments, main(args, context); it is defined as main(%s)" % (
            ", ".join(names))
    return None


def _bound_names(node):
    import ast
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


class Capture(object):
    """Takes over one file descriptor with a pipe drained, for the runner's whole life, by one
    thread. Each run starts with reset() and ends with collect(), which waits until everything
    written before it (by this process or a child that shares the pipe) has been drained. No thread
    or pipe is created per run, and a forked child needs none."""

    def __init__(self, fd):
        self.fd = fd
        self.lock = threading.Lock()
        self.synced = threading.Condition(self.lock)
        self.buf, self.total, self.limit = bytearray(), 0, 1 << 20
        self.tail, self.marker, self.seen = b"", None, False
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)
        self.r = r
        threading.Thread(target=self._drain, daemon=True).start()

    def reset(self, limit):
        with self.lock:
            self.buf, self.total, self.limit, self.tail = bytearray(), 0, limit, b""

    def _drain(self):
        while True:
            try:
                chunk = os.read(self.r, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                if self.marker is not None:
                    seen = self.tail + chunk
                    i = seen.find(self.marker)
                    if i >= 0:
                        # Keep what came before the marker; drop the marker itself.
                        chunk = chunk[:max(0, i - len(self.tail))]
                        self.seen = True
                        self.synced.notify_all()
                    self.tail = seen[-len(self.marker):]
                room = self.limit - len(self.buf)
                if room > 0:
                    self.buf += chunk[:room]
                self.total += len(chunk)

    def mark(self):
        """Write a unique marker through the pipe: what was written before it is drained once
        the marker is seen. Marking both captures before waiting on either overlaps the waits."""
        marker = b"\n<faaspot-sync-" + os.urandom(8).hex().encode() + b">\n"
        with self.lock:
            self.marker, self.seen, self.tail = marker, False, b""
        data = marker
        while data:
            data = data[os.write(self.fd, data):]

    def collect(self):
        """Return (text, truncated) of the run, once the marker written by mark() was drained."""
        with self.lock:
            self.synced.wait_for(lambda: self.seen, timeout=2)
            self.marker = None
            return bytes(self.buf).decode("utf-8", "replace"), self.total > self.limit


def error_of(exc):
    """Describe an exception of the function: its frames only, not the runner's or importlib's."""
    here = os.path.abspath(__file__)
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(f.filename) != here and not f.filename.startswith("<frozen")]
    tb = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + \
        "".join(traceback.format_exception_only(type(exc), exc))
    return {"type": type(exc).__name__, "message": str(exc), "traceback": tb}


def serve(mode):
    """Serve requests, one JSON line each on stdin, answering one frame line each on the original
    stdout, until stdin ends. The module is imported once, before the "ready" line. mode "process"
    runs every request in this process (module globals persist between runs); "fork" runs each in a
    fresh child forked from this pre-imported process, so nothing of one run's process survives."""
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    requests = os.fdopen(os.dup(0), "rb", buffering=0)
    os.dup2(devnull, 0)
    captures = (Capture(1), Capture(2))
    for stream in (sys.stdout, sys.stderr):
        try:  # keep the function's prints in order with those of its child processes
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass
    main_fn, load_error = load()
    standby = None
    if mode == "fork" and load_error is None:
        memfd = os.memfd_create("faaspot-frame")
        standby = Standby(main_fn, memfd, (out, requests.fileno()))
    write_frame(out, {"ready": True, "pid": os.getpid()})
    while True:
        line = requests.readline()
        if not line:
            return
        try:
            doc = json.loads(line.decode("utf-8"))
        except Exception as e:  # the daemon always sends JSON; this is a protocol failure
            write_frame(out, {"ok": False, "error": {"type": "ProtocolError", "message": "bad request: %s" % e}})
            return
        limit = int(doc.get("output_limit") or 1 << 20)
        for c in captures:
            c.reset(limit)
        if load_error is not None:
            frame = {"ok": False, "error": load_error}
        elif standby is not None:
            frame = standby.run(line)
        else:
            frame = run_here(main_fn, doc)
        for c in captures:
            c.mark()
        frame["stdout"], frame["stdout_truncated"] = captures[0].collect()
        frame["stderr"], frame["stderr_truncated"] = captures[1].collect()
        if standby is not None and standby.sweeps:
            frame["stray"] = 0  # killed before the next run: see Standby.renew
        else:
            frame["stray"] = stray_processes(standby.group if standby else None)
        write_frame(out, frame)
        if standby is not None:
            standby.renew()  # after the frame: the next run finds its process already forked


def run_here(main_fn, doc):
    """One run in this process."""
    pid = os.getpid()
    frame = call(main_fn, doc.get("args") or {}, doc.get("context") or {},
                 int(doc.get("result_limit") or 1 << 20))
    if os.getpid() != pid:
        # A process the function forked came back through here: only the runner answers.
        os._exit(0)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    return frame


class Standby(object):
    """Fork mode: each run gets a fresh child forked from this pre-imported process. The child is
    forked ahead of its run, after the previous frame went out, and waits for its request on a
    pipe, so neither the fork nor the child's exit is on a run's path: the child leaves its frame
    in a memfd and says so with one byte on a pipe, then its process group is killed. A child
    that dies first is noticed through SIGCHLD (a wake-up pipe), never by polling.

    In a container (the runner's parent is the container's init) every other process is what a
    finished run left behind, escaped from its group: they are killed before the next child is
    forked, so a run never meets the processes of another and the container stays warm."""

    def __init__(self, main_fn, memfd, private_fds):
        # private_fds (the protocol's stdin and stdout) are closed in every child: a function
        # cannot write on the protocol stream nor read a request that is not its own.
        self.main_fn, self.memfd = main_fn, memfd
        self.wake_r, wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(wake_w, False)
        self.private_fds = list(private_fds) + [self.wake_r, wake_w]
        signal.signal(signal.SIGCHLD, lambda signum, frame: None)
        signal.set_wakeup_fd(wake_w, warn_on_full_buffer=False)
        self.pid, self.group, self.status = None, None, 0
        self.sweeps = os.getppid() == 1
        self.renew()

    def renew(self):
        """Reap the last run's child, kill what it left behind, empty /tmp, then fork the next
        run's child."""
        if self.pid is not None:
            try:
                os.waitpid(self.pid, 0)
            except ChildProcessError:
                pass
            drain(self.wake_r)  # its SIGCHLD: no reason to wake the next run's wait
        if self.group is not None:
            if self.sweeps and not sweep():
                os._exit(70)  # processes that cannot be killed: the container must go
            clear_tmp()
        self.ooms = oom_kills()
        req_r, self.req_w = os.pipe()
        self.done_r, done_w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for fd in [self.req_w, self.done_r] + self.private_fds:
                    os.close(fd)
                os.setpgid(0, 0)
                self.child(req_r, done_w)
            finally:
                os._exit(0)
        os.close(req_r)
        os.close(done_w)
        try:
            os.setpgid(pid, pid)  # also here, so that the group exists whoever runs first
        except OSError:
            pass
        self.pid, self.group = pid, pid

    def child(self, req_r, done_w):
        chunks = []
        while True:
            chunk = os.read(req_r, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(req_r)
        doc = json.loads(b"".join(chunks).decode("utf-8"))
        data = json.dumps(run_here(self.main_fn, doc)).encode("utf-8")
        while data:
            data = data[os.write(self.memfd, data):]
        os.write(done_w, b"d")

    def run(self, line):
        """Hand line (one request) to the waiting child and return its frame."""
        os.ftruncate(self.memfd, 0)
        os.lseek(self.memfd, 0, os.SEEK_SET)
        try:
            data = line
            while data:
                data = data[os.write(self.req_w, data):]
        except OSError:  # the child is gone already: its exit status tells
            pass
        os.close(self.req_w)
        done = self.wait()
        os.close(self.done_r)
        try:
            os.killpg(self.group, signal.SIGKILL)
        except OSError:
            pass
        size = os.lseek(self.memfd, 0, os.SEEK_END)
        data = os.pread(self.memfd, size, 0) if size else b""
        if done and data:
            return json.loads(data.decode("utf-8"))
        if self.pid is not None:  # said done, left no frame: its exit tells what happened
            _, self.status = os.waitpid(self.pid, 0)
            self.pid = None
        status = self.status
        if os.WIFSIGNALED(status):
            code = 128 + os.WTERMSIG(status)
        else:
            code = os.WEXITSTATUS(status)
        if oom_kills() > self.ooms:
            return {"ok": False, "exit_code": code, "oom": True, "error": {"type": "OutOfMemory",
                    "message": "the function exceeded its memory limit and was killed"}}
        return {"ok": False, "exit_code": code, "error": {"type": "ProcessExited",
                "message": "the function's process exited with code %d before returning a result" % code}}

    def wait(self):
        """Wait until the child says it is done (True) or dies without saying so (False; its
        wait status is then in self.status)."""
        import select
        fds = [self.done_r, self.wake_r]
        while True:
            ready, _, _ = select.select(fds, [], [])
            if self.done_r in ready:
                if os.read(self.done_r, 1):
                    return True
                fds = [self.wake_r]  # end of file: the child is exiting, its SIGCHLD follows
            if self.wake_r in ready:
                drain(self.wake_r)
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                self.pid, self.status = None, status
                # It may have said done between the look at the pipe and its exit.
                return bool(select.select([self.done_r], [], [], 0)[0] and os.read(self.done_r, 1))


def drain(fd):
    """Read a non-blocking fd until it is empty."""
    try:
        while os.read(fd, 4096):
            pass
    except BlockingIOError:
        pass


def load():
    """Import the function module once; return (main, None) or (None, error)."""
    if os.path.isdir(SITE_DIR):
        sys.path.insert(0, SITE_DIR)
    sys.path.insert(0, os.path.dirname(FUNCTION_PATH))
    try:
        import importlib.util
        spec = importlib.util.spec_from_file_location("main", FUNCTION_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules["main"] = module
        spec.loader.exec_module(module)
    except BaseException as e:  # an import that raises or exits is the function's failure
        return None, error_of(e)
    main_fn = getattr(module, "main", None)
    if not callable(main_fn):
        return None, {"type": "NoMain", "message": "the code defines no main(args, context)"}
    return main_fn, None


def oom_kills():
    """The container's count of OOM kills (cgroup v2 memory.events, or v1 memory.oom_control)."""
    for path in ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control"):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith("oom_kill "):
                        return int(line.split()[1])
        except (OSError, ValueError):
            continue
    return 0


def clear_tmp():
    """Empty /tmp after a forked run: the next run starts with nothing of this one's files."""
    import shutil
    try:
        names = os.listdir(TMP_DIR)
    except OSError:
        return
    for name in names:
        path = os.path.join(TMP_DIR, name)
        try:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                os.unlink(path)
        except OSError:
            pass


def live_processes(group=None):
    """The live processes other than the init process, this runner and the members of group (a
    forked run's process group, killed already)."""
    me, live = os.getpid(), []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, me):
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if fields[0] != "Z" and (group is None or int(fields[2]) != group):
            live.append(int(name))
    return live


def stray_processes(group=None):
    """Count what a run left behind (see live_processes)."""
    return len(live_processes(group))


def sweep():
    """Kill every live process but the init process and this runner, until none is left; False
    when some survive (a fork bomb outrunning the kills)."""
    import time
    for _ in range(200):
        live = live_processes()
        if not live:
            return True
        for pid in live:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.001)  # only when a run left processes behind: let the kills land
    return False


def call(main_fn, args, context, result_limit):
    try:
        value = main_fn(args, context)
        if hasattr(value, "__await__"):
            import asyncio
            value = asyncio.run(value)
    except BaseException as e:  # SystemExit and KeyboardInterrupt are failures of the function too
        return {"ok": False, "error": error_of(e)}
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as e:
        return {"ok": False, "error": {"type": "ResultNotSerializable",
                                       "message": "the return value is not JSON-serializable: %s" % e}}
    if len(text) > result_limit:
        return {"ok": False, "error": {"type": "ResultTooLarge",
                                       "message": "the return value is %d bytes; the limit is %d" % (len(text), result_limit)}}
    return {"ok": True, "result": text}


def write_frame(fd, frame):
    # The result is embedded as a JSON string so the daemon can pass it through untouched.
    data = (json.dumps(frame) + "\n").encode("utf-8")
    while data:
        n = os.write(fd, data)
        data = data[n:]


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        msg = check(sys.argv[2])
        if msg:
            print(CHECK_PREFIX + msg)
            sys.exit(3)
        return
    mode = sys.argv[2] if len(sys.argv) == 3 and sys.argv[1] == "--serve" else "process"
    serve(mode)
    os._exit(0)


if __name__ == "__main__":
    main()
