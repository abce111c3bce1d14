"""faaspot runner: baked into every deployment image at /opt/faaspot/runner.py.

Serve mode (no arguments, or --serve process|fork): imports the function module, writes a
{"ready": true} line, then answers requests until stdin ends: each request is one JSON line
{"args", "context", "output_limit", "result_limit"} on stdin, each answer one result frame, a
single JSON line, on the original stdout. When the sandbox gives the container a unix socket at
CHANNEL_PATH, requests and frames go over a connection to it instead (see channel_fds). What the function prints (fd 1 and 2) is captured apart
through pipes, capped at output_limit bytes each, so it can never be mistaken for a frame; stdin
is /dev/null for the function. A container used for one run simply gets one request. A request
with "live": true also gets, ahead of its frame and only while its run goes on, output lines
{"out": "stdout" or "stderr", "data": TEXT}: only the runner writes them (see Capture), each
stream's together a head of what the frame will hold, within output_limit; a run that ends
within LIVE_DELAY gets none (its frame holds everything). A
frame's error is capped: message and traceback at ERROR_CAP bytes each, flagged
"message_truncated" and "traceback_truncated". Its "stray" counts what the run left running (in
process mode, processes and threads): the sandbox then retires the container.

In fork mode three kinds of process share the container (see Standby):
  - the runner speaks the protocol, captures output and holds every run's data;
  - the fork server is forked from the runner once the function is imported, before any
    request: no byte of any run ever enters it, and every run's process is forked from it, so
    a run finds nothing of another in its memory, freed memory included;
  - a run's process gets its request on a pipe and leaves its frame in a memfd.
The runner and the fork server are not dumpable: a run, of the same uid, can neither trace them
nor open their memory or descriptors through /proc. A run's process is confined by Landlock
where the kernel has it, which keeps it from tracing, reading or signalling any process outside
its own (the container's init included, which holds the protocol streams too). Between runs the
runner kills what a run left running and removes what it left in /tmp, /dev/shm, /dev/mqueue
and SysV IPC. The fork server proves all this once per container (confinement_holds); where it
cannot (no Landlock; gVisor, whose /proc ignores dumpability and lists no SysV IPC), the ready
line says "unconfined" and the sandbox gives each container a single run.

Check mode (--check PATH, or --check - to read the code from stdin): validates at build time
that the code defines main(args, context) and imports with its requirements (its top-level code
runs, its output discarded); on failure prints one line "FAASPOT-CHECK: <message as a JSON
string>" (the message may hold the import's traceback) and exits 3.

Works on Python 3.8 and later, standard library only.
"""
import codecs
import json
import os
import select
import signal
import stat
import sys
import threading
import time
import traceback

FUNCTION_PATH = "/opt/faaspot/function/main.py"
# The sandbox's socket for the protocol, when it gives the container one (a read-only mount).
CHANNEL_PATH = "/run/faaspot/s"
SITE_DIR = "/opt/faaspot/site"
TMP_DIR = "/tmp"
# Where else a run may leave files for the next: emptied when the runner owns the container.
SHM_DIRS = ("/dev/shm", "/dev/mqueue")
SYSVIPC_DIR = "/proc/sysvipc"
CHECK_PREFIX = "FAASPOT-CHECK: "
# Caps of an error in a frame, in bytes of UTF-8: a 10 MB exception message must not make a
# 10 MB frame, nor cost the runner more than these to format.
ERROR_CAP = 64 << 10
TYPE_CAP = 256
NOTES_CAP = 16  # notes of an exception shown in its traceback
TRACEBACK_FRAMES = 500  # frames shown from each end of a deeper traceback
# The highest Landlock ABI used (None: the kernel's); tests lower it to cover older kernels.
LANDLOCK_MAX_ABI = None


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
    if found != "bound":
        a = found.args
        positional = list(getattr(a, "posonlyargs", [])) + list(a.args)
        required = len(positional) - len(a.defaults)
        if (len(positional) < 2 and a.vararg is None) or required > 2 or \
                any(d is None for d in a.kw_defaults):
            names = [p.arg for p in positional]
            return "main must accept two arguments, main(args, context); it is defined as main(%s)" % (
                ", ".join(names))
    return import_check(source)


def import_check(source):
    """Import the code as a run imports it, with its requirements (SITE_DIR): None when it imports
    and binds a callable main, else the message, with the exception and its traceback. What the
    import prints is discarded. The caller (the build) bounds its time."""
    import linecache
    import types
    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as e:
        return "the code is not UTF-8: %s" % e
    linecache.cache[FUNCTION_PATH] = (len(text), None, text.splitlines(True), FUNCTION_PATH)
    if os.path.isdir(SITE_DIR):
        sys.path.insert(0, SITE_DIR)
    module = types.ModuleType("main")
    module.__file__ = FUNCTION_PATH
    sys.modules["main"] = module
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        exec(compile(text, FUNCTION_PATH, "exec"), module.__dict__)
    except BaseException as e:  # SystemExit and KeyboardInterrupt too: the module fails to import
        err = error_of(e)
        return "the code cannot be imported: %s: %s\n%s" % (err["type"], err["message"], err.get("traceback", ""))
    if not callable(getattr(module, "main", None)):
        return "the code defines no main(args, context) function: main is %s" % type(getattr(module, "main", None)).__name__
    return None


def _bound_names(node):
    import ast
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


# Live output: what a run that asked for it prints is sent ahead of its frame once it has waited
# LIVE_DELAY seconds, or as soon as LIVE_CHUNK bytes wait in a run older than LIVE_DELAY, in
# lines of at most LIVE_CHUNK bytes of output.
LIVE_DELAY = 0.15
LIVE_CHUNK = 64 << 10


def live_sink(fd, lock):
    """The sink of the captures' live output: one {"out", "data"} line on fd (the protocol
    stream, which no run's process holds) per piece, written whole under lock."""
    def send(name, text):
        data = (json.dumps({"out": name, "data": text}) + "\n").encode("utf-8")
        with lock:
            while data:
                data = data[os.write(fd, data):]
    return send


class Capture(object):
    """Takes over one file descriptor with a pipe drained, for the runner's whole life, by one
    thread. Each run starts with reset() and ends with collect(), which waits until everything
    written before it (by this process or a child that shares the pipe) has been drained. No thread
    or pipe is created per run, and a forked child needs none.

    With a sink, a run reset with live=True also has its output handed to sink(name, text) while
    it goes on, by the draining thread: the text of what is kept (the head within the limit) and
    was not sent yet, decoded as collect() decodes it, once it has waited LIVE_DELAY, or as soon
    as LIVE_CHUNK bytes wait in a run older than LIVE_DELAY; never after mark(). So what was sent
    is always a head of what collect() returns, and a run that ends within LIVE_DELAY, or prints
    nothing, costs nothing more."""

    def __init__(self, fd, name=None, sink=None):
        self.fd, self.name, self.sink = fd, name, sink
        self.lock = threading.Lock()
        self.synced = threading.Condition(self.lock)
        self.buf, self.total, self.limit = bytearray(), 0, 1 << 20
        self.tail, self.marker, self.seen = b"", None, False
        # Live output of the current run: on, bytes of buf sent, when the oldest unsent byte came
        # (None: nothing waits), when the run began, the decoder of what was sent.
        self.live, self.sent, self.since, self.began, self.decoder = False, 0, None, 0.0, None
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)
        self.r = r

    def start(self):
        """Start draining: apart from __init__ so that the fork server is forked from a runner
        with no thread of its own (a fork copies only the calling thread)."""
        threading.Thread(target=self._drain, daemon=True).start()

    def reset(self, limit, live=False):
        with self.lock:
            self.buf, self.total, self.limit, self.tail = bytearray(), 0, limit, b""
            self.live = live and self.sink is not None
            self.sent, self.since, self.decoder = 0, None, None
            if self.live:
                self.began = time.monotonic()

    def _drain(self):
        while True:
            due = self._due()
            if due is not None and not select.select([self.r], [], [], due)[0]:
                with self.lock:
                    self._send()
                continue
            try:
                chunk = os.read(self.r, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                self._take(chunk)

    def _take(self, chunk):
        """Keep what chunk adds within the limit, up to the marker; send it live when due. The
        caller holds the lock."""
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
        if self.live and self.marker is None and len(self.buf) > self.sent:
            now = time.monotonic()
            if self.since is None:
                self.since = now
            if now - self.since >= LIVE_DELAY or \
                    (len(self.buf) - self.sent >= LIVE_CHUNK and now - self.began >= LIVE_DELAY):
                self._send()

    def _due(self):
        """Seconds until the output waiting to be sent live is due (0: now), None when none
        waits: the drain then blocks on its read alone."""
        with self.lock:
            if not self.live or self.marker is not None or self.since is None:
                return None
            return max(0.0, self.since + LIVE_DELAY - time.monotonic())

    def _send(self):
        """Hand the sink what was kept and not sent yet, in pieces of at most LIVE_CHUNK bytes
        (a character cut between pieces goes with the next). The caller holds the lock, so that
        collect() returns only once no piece of its run is on its way. A sink that fails (the
        protocol stream is gone) ends the live output of the run."""
        if not self.live or self.marker is not None:
            return
        if self.decoder is None:
            self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        end, self.since = len(self.buf), None
        try:
            while self.sent < end:
                piece = bytes(self.buf[self.sent:min(end, self.sent + LIVE_CHUNK)])
                self.sent += len(piece)
                text = self.decoder.decode(piece)
                if text:
                    self.sink(self.name, text)
        except OSError:
            self.live = False

    def mark(self):
        """Write a unique marker through the pipe: what was written before it is drained once
        the marker is seen. Marking both captures before waiting on either overlaps the waits.
        Nothing more of the run is sent live."""
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
            self.marker, self.live = None, False
            return bytes(self.buf).decode("utf-8", "replace"), self.total > self.limit


# --- errors: every part capped, so that no exception makes a huge frame or a long formatting ---

def error_of(exc):
    """Describe an exception of the function: its frames only, not the runner's or importlib's."""
    message = safe_str(exc)
    try:
        frames, frames_cut = function_frames(exc.__traceback__)
        last, notes_cut = exception_lines(exc, capped(message, ERROR_CAP)[0])
        tb = "".join(["Traceback (most recent call last):\n"] + frames + last)
    except Exception:  # a traceback that cannot be formatted: the error all the same
        tb, frames_cut, notes_cut = "", False, False
    return bounded_error(type(exc).__name__, message, tb, frames_cut or notes_cut)


def bounded_error(typ, message, tb=None, tb_cut=False):
    """The error object of a frame, each part capped (see capped): the message and the
    traceback flagged when cut (the sandbox reads message_truncated and traceback_truncated)."""
    error = {"type": capped(typ, TYPE_CAP)[0]}
    error["message"], cut = capped(message, ERROR_CAP)
    if cut:
        error["message_truncated"] = True
    if tb is not None:
        error["traceback"], cut = capped(tb, ERROR_CAP, tail=True)
        if cut or tb_cut:
            error["traceback_truncated"] = True
    return error


def capped(text, cap, tail=False):
    """(text, False) when text is at most cap bytes of UTF-8, else (a cut of it within cap bytes
    with a marker, True): its head, or with tail its head and its tail (a traceback ends with its
    innermost frame and the exception). Never looks at more than cap characters of text."""
    if len(text) <= cap // 4 or len(text) <= cap and len(text.encode("utf-8", "surrogatepass")) <= cap:
        return text, False
    marker = "\n... [truncated: %d characters in all] ...\n" % len(text)
    room = cap - len(marker)
    if not tail:
        return utf8_cut(text[:room], room) + marker, True
    half = room // 2
    return utf8_cut(text[:half], half) + marker + utf8_cut(text[-half:], half, end=True), True


def utf8_cut(text, size, end=False):
    """The first (with end, the last) size bytes of text's UTF-8, whole characters only."""
    data = text.encode("utf-8", "surrogatepass")
    data = data[-size:] if end else data[:size]
    return data.decode("utf-8", "ignore")


def safe_str(value):
    """str(value), or a placeholder when its __str__ fails: the runner must answer all the same."""
    try:
        return str(value)
    except BaseException:
        return "<exception str() failed>"


def function_frames(tb):
    """(the formatted frames of tb outside the runner and importlib, whether some were left out): at
    most TRACEBACK_FRAMES from each end, so that a traceback a million frames deep costs no more
    than a short one."""
    import collections
    here = os.path.abspath(__file__)
    head, tail, count = [], collections.deque(maxlen=TRACEBACK_FRAMES), 0
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if os.path.abspath(name) != here and not name.startswith("<frozen"):
            count += 1
            (head if len(head) < TRACEBACK_FRAMES else tail).append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    left_out = count - len(head) - len(tail)
    lines = traceback.StackSummary.extract(head).format()
    if left_out:
        lines.append("  [... %d frames left out ...]\n" % left_out)
    return lines + traceback.StackSummary.extract(tail).format(), left_out > 0


def exception_lines(exc, message):
    """(the traceback's last lines as Python prints them, the exception's notes included, whether
    notes were left out), from message (capped already), the name and at most NOTES_CAP notes,
    each capped at ERROR_CAP."""
    cls = type(exc)
    name = capped(getattr(cls, "__qualname__", cls.__name__), ERROR_CAP)[0]
    if cls.__module__ not in ("__main__", "builtins"):
        name = capped(str(cls.__module__), ERROR_CAP)[0] + "." + name
    notes = getattr(exc, "__notes__", None)
    notes = notes if isinstance(notes, (list, tuple)) else []
    if isinstance(exc, SyntaxError) and len(message) < ERROR_CAP and not notes:
        return [capped(line, ERROR_CAP)[0] for line in traceback.format_exception_only(cls, exc)], False
    lines = [name + (": " + message if message else "") + "\n"]
    lines += [capped(safe_str(note), ERROR_CAP)[0] + "\n" for note in notes[:NOTES_CAP]]
    if len(notes) > NOTES_CAP:
        lines.append("[... %d notes left out ...]\n" % (len(notes) - NOTES_CAP))
    return lines, len(notes) > NOTES_CAP


# --- serving ---

def serve(mode):
    """Serve requests, one JSON line each on stdin, answering one frame line each on the original
    stdout, until stdin ends. The module is imported once, before the "ready" line. mode "process"
    runs every request in this process (module globals persist between runs); "fork" runs each in a
    fresh process forked from a pre-imported one, so nothing of one run survives (see Standby)."""
    out, inp = channel_fds()
    devnull = os.open(os.devnull, os.O_RDWR)
    requests = os.fdopen(inp, "rb")  # buffered: no run's process ever shares its buffer
    os.dup2(devnull, 0)
    os.close(devnull)
    sink = live_sink(out, threading.Lock())
    captures = (Capture(1, "stdout", sink), Capture(2, "stderr", sink))
    for stream in (sys.stdout, sys.stderr):
        try:  # keep the function's prints in order with those of its child processes
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass
    main_fn, load_error = load()
    standby = None
    if mode == "fork" and load_error is None:
        standby = Standby(main_fn, [out, requests.fileno()] + [c.r for c in captures])
    for c in captures:
        c.start()
    threads = own_threads()  # process mode: threads started by the import are not a run's
    ready = {"ready": True, "pid": os.getpid()}
    if standby is not None and not standby.confined:
        ready["unconfined"] = True  # the sandbox gives each container one run
    write_frame(out, ready)
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
            c.reset(limit, bool(doc.get("live")))
        if load_error is not None:
            frame = {"ok": False, "error": load_error}
        elif standby is not None:
            frame = standby.run(line, doc)
        else:
            frame = run_here(main_fn, doc)
        for c in captures:
            c.mark()
        frame["stdout"], frame["stdout_truncated"] = captures[0].collect()
        frame["stderr"], frame["stderr_truncated"] = captures[1].collect()
        frame["stray"] = standby.stray() if standby else stray_processes() + stray_threads(threads)
        write_frame(out, frame)
        if standby is not None:
            standby.renew()  # after the frame: the next run finds its process forked already


def channel_fds():
    """The protocol's descriptors, (write, read): a connection to the sandbox's socket at
    CHANNEL_PATH, made before anything of the function is imported, when there is one and the
    runner can connect to it; else the original stdout and stdin, after the line
    {"channel": "stdio"} on stdout tells the sandbox so when there was one. (gVisor keeps host
    sockets out of its sandbox.)"""
    path = CHANNEL_PATH
    if os.path.exists(path):
        import socket
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(path)
            fd = s.detach()
            os.set_blocking(fd, True)
            return fd, os.dup(fd)
        except OSError:
            write_frame(1, {"channel": "stdio"})
    return os.dup(1), os.dup(0)


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


# How many run processes are kept forked ahead of their runs. The next run's process is asked
# for as a run starts, so that it is forked while that run goes on: no fork is on a run's path.
SPARES = 1


class Spare(object):
    """A run's process forked ahead of its run, waiting for its request: its pid and the runner's
    ends of its request pipe, done pipe and frame memfd (-1 once closed)."""

    def __init__(self, pid, fds):
        self.pid = pid
        self.req_w, self.done_r, self.memfd = fds

    def close(self):
        for name in ("req_w", "done_r", "memfd"):
            fd = getattr(self, name)
            if fd >= 0:
                os.close(fd)
                setattr(self, name, -1)

    def waiting(self):
        """Whether the process still waits for its request: a run's process (same uid) may have
        ended or stopped it. Its done pipe at end of file means it is gone, whatever process has
        its pid since; one stopped is killed."""
        if select.select([self.done_r], [], [], 0)[0]:
            return False
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] not in ("T", "t"):
                    return True
        except (OSError, IndexError):
            return False
        try:
            os.kill(self.pid, signal.SIGKILL)
        except OSError:
            pass
        return False


class Standby(object):
    """Fork mode, the runner's side. Each run gets a fresh process forked by the fork server (see
    fork_server), whose memory holds nothing of any run. The process is forked ahead of its run,
    while the run before it goes on (a spare, see SPARES), and waits for its request on a pipe, so
    neither the fork nor the process's end is on a run's path: it leaves its frame in a memfd and
    says so with one byte on a pipe, then its process group is killed. The fork server hands the
    runner these descriptors with the process's pid, and the wait status of each process that
    ends.

    When the runner owns the container (its parent is the container's init, or it is the init),
    every other process but the fork server and the spares is what a finished run left behind,
    escaped from its group: they are killed, and what runs left in /tmp, /dev/shm, /dev/mqueue
    and SysV IPC removed, before the next request is handed over, so a run never meets anything
    of another and the container stays warm. A spare holds nothing of any run: it was forked from
    the fork server, is confined apart from the run beside it (see confine_run), and reads
    nothing before its request."""

    def __init__(self, main_fn, private_fds):
        import socket
        self.owns = os.getpid() == 1 or os.getppid() == 1
        if os.getpid() == 1:
            # The container's init gets the signals it has handlers for: a run must not
            # interrupt the runner (runs get Python's handler back: see start_run).
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        prctl(PR_SET_DUMPABLE, 0)  # before the fork: the fork server is hidden as well
        self.server, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            try:
                self.server.close()
                for fd in private_fds:  # the protocol streams, the captured output
                    os.close(fd)
                fork_server(main_fn, theirs)
            finally:
                os._exit(70)
        theirs.close()
        self.server_pid, self.server_lost = pid, False
        msg = receive_fds(self.server, 0)[0]
        if not msg.startswith(b"c"):
            os._exit(70)
        self.confined = msg == b"c1"
        self.spares, self.asked = [], 0
        # The process of the run under way or last, its group, its wait status once it ended.
        self.pid, self.group, self.status = None, None, None
        self.ooms = oom_kills()
        self.ask()
        while not self.spares:  # ready means the first run's process is there
            self.pump()

    def ask(self):
        """Have one more process forked (it joins the spares when the server says so)."""
        self.server.send(b"f")
        self.asked += 1

    def pump(self):
        """Take the fork server's next message: a process forked (b"p<pid>" with its three
        descriptors) joins the spares; a process's end (b"s<pid> <status>") is kept when it is
        the run's. The runner exits when the server is gone or says anything else."""
        msg, fds = receive_fds(self.server, 3)
        if msg.startswith(b"p") and len(fds) == 3:
            self.spares.append(Spare(int(msg[1:]), fds))
            self.asked -= 1
            return
        if msg.startswith(b"s") and not fds:
            pid, status = (int(x) for x in msg[1:].split())
            if pid == self.pid:
                self.status = status
            return
        os._exit(70)

    def take(self):
        """A spare still waiting for its request, forked now only when there is none."""
        while True:
            while not self.spares:
                if not self.asked:
                    self.ask()
                self.pump()
            spare = self.spares.pop(0)
            if spare.waiting():
                return spare
            spare.close()

    def renew(self):
        """After a run's frame went out: kill what the run left running and remove what it left
        behind, and have a spare forked when none is on its way. The runner exits (the container
        must go) when something of a run cannot be removed or the fork server is gone."""
        if self.group is not None:
            if self.owns and not (sweep(self.spared()) and clear_container()):
                os._exit(70)
            if not clear_tree(TMP_DIR):
                os._exit(70)
            if os.getpid() == 1:
                self.reap()
            self.group = None
        if not self.server_alive():
            os._exit(70)
        self.ooms = oom_kills()
        if len(self.spares) + self.asked < SPARES:
            self.ask()

    def spared(self):
        """The processes a sweep spares besides this runner: the fork server and every process
        it forked but the run's (a spare, whether or not its pid reached the runner yet)."""
        return Spared(self.server_pid, self.pid)

    def server_alive(self):
        if not self.server_lost:
            try:
                self.server_lost = os.waitpid(self.server_pid, os.WNOHANG)[0] != 0
            except ChildProcessError:
                self.server_lost = True
        return not self.server_lost

    def reap(self):
        """As the container's init, reap the processes of runs that ended as orphans."""
        while True:
            try:
                pid = os.waitpid(-1, os.WNOHANG)[0]
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.server_lost = self.server_lost or pid == self.server_pid

    def stray(self):
        """What the run left that may act on: nothing, when everything is killed before the next
        run, unless the fork server was lost (then the container must go); else the processes
        besides the run's group, the fork server, the spares and this runner."""
        if self.owns:
            return 0 if self.server_alive() else 1
        return len(live_processes(self.spared(), self.group))

    def run(self, line, doc):
        """Hand line (one request) to a waiting process and return its frame. The next run's
        process is asked for first, so that it is forked while this run goes on."""
        spare = self.take()
        self.pid, self.group, self.status = spare.pid, spare.pid, None
        if len(self.spares) + self.asked < SPARES:
            self.ask()
        try:
            data = line if line.endswith(b"\n") else line + b"\n"
            while data:
                data = data[os.write(spare.req_w, data):]
        except OSError:  # the process is gone already: its wait status tells
            pass
        os.close(spare.req_w)  # the end of the request
        spare.req_w = -1
        try:
            done = self.wait(spare)
            try:
                os.killpg(self.group, signal.SIGKILL)
            except OSError:
                pass
            return self.frame(spare, done, int(doc.get("result_limit") or 1 << 20))
        finally:
            spare.close()

    def wait(self, spare):
        """Wait until the run's process says it is done (True) or ends without saying so (False;
        its wait status is then in self.status)."""
        fds = [spare.done_r, self.server]
        while self.status is None:
            ready, _, _ = select.select(fds, [], [])
            if spare.done_r in ready:
                if os.read(spare.done_r, 1):
                    return True
                fds = [self.server]  # end of file: the process is ending, its status follows
            if self.server in ready:
                self.pump()
        # It may have said done between the look at the pipe and its end.
        return bool(select.select([spare.done_r], [], [], 0)[0] and os.read(spare.done_r, 1))

    def frame(self, spare, done, result_limit):
        """The frame the run's process left, or the story of its end. A frame larger than an
        honest one can be (a result within result_limit, capped errors) is refused unread."""
        size = os.lseek(spare.memfd, 0, os.SEEK_END)
        if done and size > 2 * result_limit + (1 << 20):
            return protocol_error("the run's frame is %d bytes, more than its limits allow" % size)
        if done and size:
            try:
                frame = json.loads(os.pread(spare.memfd, size, 0).decode("utf-8"))
            except ValueError:
                frame = None
            return frame if isinstance(frame, dict) else protocol_error("the run left a frame that is no JSON object")
        while self.status is None:  # said done, left no frame: its end tells what happened
            self.pump()
        status = self.status
        code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
        if oom_kills() > self.ooms:
            return {"ok": False, "exit_code": code, "oom": True, "error": {"type": "OutOfMemory",
                    "message": "the function exceeded its memory limit and was killed"}}
        return {"ok": False, "exit_code": code, "error": {"type": "ProcessExited",
                "message": "the function's process exited with code %d before returning a result" % code}}


class Spared(object):
    """The processes a sweep of fork mode leaves alone (see Standby.spared): server, and every
    process whose parent is server except run."""

    def __init__(self, server, run):
        self.server, self.run = server, run

    def __contains__(self, pid):
        return pid == self.server

    def child(self, pid, ppid):
        return ppid == self.server and pid != self.run


def protocol_error(message):
    """The frame of a run whose process broke the protocol (it shares the process with the
    function, which may have written the frame itself)."""
    return {"ok": False, "error": {"type": "ProtocolError", "message": message}}


def fork_server(main_fn, sock):
    """The fork server: on each b"f" from the runner, fork one run's process with a fresh request
    pipe, done pipe and frame memfd, and send the runner its ends of them with the pid; whenever
    processes end, send each one's wait status. It waits on the runner's socket and on SIGCHLD
    at once, so a process is forked while another runs. Nothing of a run ever reaches this
    process: it handles descriptors and pids only."""
    import gc
    prctl(PR_SET_NO_NEW_PRIVS, 1)  # for Landlock; nothing here or in a run gains privileges
    ruleset = run_ruleset()
    sock.send(b"c%d" % confinement_holds(ruleset))
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.signal(signal.SIGCHLD, lambda signum, frame: None)
    signal.set_wakeup_fd(wake_w)
    # What the import made is never scanned by a run's collections: they leave the pages every
    # run shares with this process alone instead of copying them.
    gc.freeze()
    while True:
        ready = select.select([sock, wake_r], [], [])[0]
        if wake_r in ready:
            try:
                while os.read(wake_r, 512):
                    pass
            except BlockingIOError:
                pass
        report_ends(sock)
        if sock in ready:
            if not sock.recv(1):
                return
            fork_run(main_fn, sock, ruleset, (wake_r, wake_w))


def report_ends(sock):
    """Send the runner the wait status of each of this fork server's processes that ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        sock.send(b"s%d %d" % (pid, status))


def fork_run(main_fn, sock, ruleset, wake):
    """Fork one run's process (see start_run) and send the runner its pid and descriptors."""
    req_r, req_w = os.pipe()
    done_r, done_w = os.pipe()
    memfd = os.memfd_create("faaspot-frame")
    pid = os.fork()
    if pid == 0:
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            sock.close()
            for fd in wake + (req_w, done_r):
                os.close(fd)
            start_run(main_fn, req_r, done_w, memfd, ruleset)
        finally:
            os._exit(0)
    os.close(req_r)
    os.close(done_w)
    try:
        os.setpgid(pid, pid)  # also here, so that the group exists whoever runs first
    except OSError:
        pass
    send_fds(sock, b"p%d" % pid, [req_w, done_r, memfd])
    for fd in (req_w, done_r, memfd):
        os.close(fd)


def start_run(main_fn, req_r, done_w, memfd, ruleset):
    """A run's process: set apart before its request arrives, then read it, run, leave the frame
    in memfd and say so on done_w."""
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    prctl(PR_SET_DUMPABLE, 1)  # the function's own /proc files, for itself and its processes
    confine_run(ruleset)
    chunks = []
    while True:
        chunk = os.read(req_r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(req_r)
    doc = json.loads(b"".join(chunks).decode("utf-8"))
    data = json.dumps(run_here(main_fn, doc)).encode("utf-8")
    while data:
        data = data[os.write(memfd, data):]
    os.write(done_w, b"d")


def confinement_holds(ruleset):
    """Whether this container keeps runs apart as fork mode promises: a process forked and
    confined as a run's (start_run) reaches none of the processes above it (this fork server,
    the runner, the container's init) by tracing or through /proc (memory, environment,
    descriptors), and what a run leaves in SysV IPC or POSIX message queues can be found to be
    removed. Signals are not counted: without Landlock's signal scoping (ABI 6) a run can stop
    or end the processes of its own container, which ends or times out the runs of its own
    deployment only, and a runner that is the container's init ignores them. Checked once per container; a kernel without Landlock, or gVisor (whose /proc
    ignores dumpability and lists no SysV IPC), fails it."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.setpgid(0, 0)
            prctl(PR_SET_DUMPABLE, 1)
            confine_run(ruleset)  # closes this process's copy only
            code = 1 if reaches_above() else 0
        finally:
            os._exit(code)
    return os.waitpid(pid, 0)[1] == 0 and residue_listable()


def reaches_above():
    """Whether this process reaches any process above it (see confinement_holds)."""
    import ctypes
    lib = libc()
    parent = os.getppid()
    with open("/proc/%d/stat" % parent) as f:
        grandparent = int(f.read().rsplit(")", 1)[1].split()[1])
    ways = (lambda pid: lib.ptrace(0x4206, pid, None, None) == 0,  # PTRACE_SEIZE
            lambda pid: os.close(os.open("/proc/%d/mem" % pid, os.O_RDONLY)),
            lambda pid: os.close(os.open("/proc/%d/environ" % pid, os.O_RDONLY)),
            lambda pid: os.readlink("/proc/%d/fd/0" % pid),
            lambda pid: os.close(os.open("/proc/%d/fd/1" % pid, os.O_WRONLY | os.O_NONBLOCK)))
    lib.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    for pid in {parent, grandparent, 1} - {0, os.getpid()}:
        for way in ways:
            try:
                if way(pid) is not False:
                    return True
            except OSError:
                pass
    return False


def residue_listable():
    """Whether clear_container finds every SysV IPC object and POSIX message queue a run may
    create: /proc lists the former and /dev/mqueue the latter, or the kernel offers none."""
    IPC_PRIVATE, IPC_RMID = 0, 0
    lib = libc()
    if not os.path.exists(os.path.join(SYSVIPC_DIR, "shm")):
        shm = lib.shmget(IPC_PRIVATE, 4096, 0o600)
        if shm >= 0:
            lib.shmctl(shm, IPC_RMID, None)
            return False
    if not os.path.isdir("/dev/mqueue") and hasattr(lib, "mq_open"):
        name = b"/faaspot-probe-%d" % os.getpid()
        queue = lib.mq_open(name, os.O_CREAT | os.O_RDWR, 0o600, None)
        if queue >= 0:
            lib.mq_close(queue)
            lib.mq_unlink(name)
            return False
    return True


def send_fds(sock, data, fds):
    import array
    import socket
    sock.sendmsg([data], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])


def receive_fds(sock, nfds):
    """(message, descriptors) of the next message on sock: (b"", []) once its peer is gone."""
    import array
    import socket
    data, ancillary, _, _ = sock.recvmsg(64, socket.CMSG_SPACE(nfds * 4) if nfds else 0)
    fds = array.array("i")
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[:len(payload) - len(payload) % fds.itemsize])
    return data, list(fds)


# --- the kernel's protections, through libc (no module of the standard library has them) ---

PR_SET_DUMPABLE = 4
PR_SET_NO_NEW_PRIVS = 38
_libc = None


def libc():
    global _libc
    if _libc is None:
        import ctypes
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def prctl(option, value):
    """prctl(option, value), raising on failure: fork mode does not run unprotected."""
    if libc().prctl(option, value, 0, 0, 0) != 0:
        import ctypes
        err = ctypes.get_errno()
        raise OSError(err, "prctl(%d, %d): %s" % (option, value, os.strerror(err)))


# Landlock (linux/landlock.h): syscall numbers are the same on every architecture.
LANDLOCK_CREATE_RULESET, LANDLOCK_ADD_RULE, LANDLOCK_RESTRICT_SELF = 444, 445, 446
LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET, LANDLOCK_SCOPE_SIGNAL = 1, 2
# The filesystem rights an ABI knows: all bits below REFER (ABI 2), TRUNCATE (3), IOCTL_DEV (5).
LANDLOCK_FS_BITS = {2: 14, 3: 15, 4: 15, 5: 16}


def run_ruleset():
    """A Landlock ruleset for runs' processes (see confine_run), or -1 when the kernel has no
    usable Landlock (ABI 1 would forbid renames across directories: it is not used). Made once
    by the fork server."""
    import ctypes
    lib = libc()
    abi = lib.syscall(LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1))
    if LANDLOCK_MAX_ABI is not None:
        abi = min(abi, LANDLOCK_MAX_ABI)
    if abi < 2:
        return -1
    if abi >= 6:  # handled_access_fs, handled_access_net, scoped
        attr = (ctypes.c_uint64 * 3)(0, 0, LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL)
        rights = 0
    else:
        rights = (1 << LANDLOCK_FS_BITS[abi]) - 1
        attr = (ctypes.c_uint64 * 1)(rights)
    ruleset = lib.syscall(LANDLOCK_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(ctypes.sizeof(attr)),
                          ctypes.c_uint32(0))
    if ruleset >= 0 and rights and not allow_beneath_root(lib, ruleset, rights):
        os.close(ruleset)
        return -1
    return ruleset


def confine_run(ruleset):
    """Put this run's process in the Landlock domain of ruleset (best effort: -1, the kernel has
    none). In the domain, the run and every process it starts can neither trace nor read, through
    /proc, the memory or descriptors of a process outside it (the runner, the fork server, the
    container's init: it holds the protocol streams), and from ABI 6 not signal them nor connect
    to their abstract unix sockets. Files are not restricted: a rule allows every right beneath
    /. The fork server set no_new_privs, Landlock's condition without CAP_SYS_ADMIN."""
    if ruleset < 0:
        return False
    import ctypes
    try:
        return libc().syscall(LANDLOCK_RESTRICT_SELF, ruleset, ctypes.c_uint32(0)) == 0
    finally:
        os.close(ruleset)


def allow_beneath_root(lib, ruleset, rights):
    """Add to ruleset a rule allowing rights beneath /: a domain without file restrictions."""
    import ctypes
    import struct
    root = os.open("/", os.O_PATH | os.O_CLOEXEC)
    try:
        rule = ctypes.create_string_buffer(struct.pack("=Qi", rights, root))  # path_beneath_attr, packed
        return lib.syscall(LANDLOCK_ADD_RULE, ruleset, 1, rule, ctypes.c_uint32(0)) == 0
    finally:
        os.close(root)


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


# --- what a forked run leaves behind ---

def clear_tree(top):
    """Remove everything under top, whatever modes a run gave it, never following a symbolic
    link; True when top is left empty (or absent). Every entry is the run's, of this uid, so a
    directory can be opened up (0700) before it is entered; no process of the run is left to
    swap an entry between its look and its removal. Iterative and by the working directory, so
    that no nesting exhausts the stack or the descriptors."""
    try:
        if not os.listdir(top):
            return True  # the common case, in one look
        top_fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    try:
        back = os.open(".", os.O_PATH | os.O_DIRECTORY)
    except OSError:
        os.close(top_fd)
        return False
    try:
        os.fchdir(top_fd)
        stack = [(None, os.listdir("."))]
        while stack:
            name, left = stack[-1]
            if left:
                entered = remove_or_enter(left.pop())
                if entered:
                    stack.append((entered, listdir_or_empty()))
                continue
            stack.pop()
            if name is not None:
                os.chdir("..")
                try:
                    os.rmdir(name)
                except OSError:
                    pass  # found by the final look
        return not os.listdir(".")
    except OSError:
        return False
    finally:
        os.fchdir(back)
        os.close(back)
        os.close(top_fd)


def remove_or_enter(name):
    """Remove name from the working directory, or, a directory, open it up and enter it: return
    its name then."""
    try:
        if not stat.S_ISDIR(os.lstat(name).st_mode):
            os.unlink(name)
            return None
        os.chmod(name, 0o700)  # a directory, not a link: lstat said so
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return None  # found by the final look
    try:
        os.fchdir(fd)
    finally:
        os.close(fd)
    return name


def listdir_or_empty():
    try:
        return os.listdir(".")
    except OSError:
        return []


def clear_container():
    """Remove what runs left outside /tmp and their processes: the files of /dev/shm (POSIX
    shared memory and semaphores), POSIX message queues, SysV IPC. Only for a runner that owns
    its container: elsewhere these are the machine's. True when nothing is left."""
    files = [clear_tree(d) for d in SHM_DIRS if os.path.isdir(d) and os.access(d, os.W_OK)]
    return clear_sysv_ipc() and all(files)


def clear_sysv_ipc():
    """Remove the SysV shared memory segments, semaphore sets and message queues this uid owns or
    created (the container has an IPC namespace of its own: they are runs'); True when none is
    left. ipcrm is not in the images: libc's *ctl(IPC_RMID) does it."""
    IPC_RMID = 0
    remove = {"shm": lambda i: libc().shmctl(i, IPC_RMID, None),
              "sem": lambda i: libc().semctl(i, 0, IPC_RMID),
              "msg": lambda i: libc().msgctl(i, IPC_RMID, None)}
    failed = 0
    for kind in ("shm", "sem", "msg"):
        for ident in sysv_ids(kind):
            failed += remove[kind](ident) != 0
    return failed == 0


def sysv_ids(kind):
    """The ids of the SysV objects of kind ("shm", "sem", "msg") this uid owns or created."""
    try:
        fd = os.open(os.path.join(SYSVIPC_DIR, kind), os.O_RDONLY)
    except OSError:
        return []
    chunks = []
    try:
        while True:  # a /proc file comes a page or so at a time
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    text = b"".join(chunks).decode("ascii", "replace")
    header, _, rows = text.partition("\n")
    if not rows.strip():
        return []  # the common case: nothing but the header
    header, rows, me = header.split(), [r.split() for r in rows.splitlines()], str(os.getuid())
    if "uid" not in header or "cuid" not in header:
        return []
    uid, cuid = header.index("uid"), header.index("cuid")
    return [int(r[1]) for r in rows if len(r) > cuid and me in (r[uid], r[cuid])]


def live_processes(spared=(), group=None):
    """The live processes other than the init process, this runner, spared (pids, or a Spared
    that also judges a process by its parent) and the members of group (a forked run's process
    group, killed already)."""
    me, live = os.getpid(), []
    by_parent = getattr(spared, "child", None)
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in (1, me) or int(name) in spared:
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if by_parent is not None and by_parent(int(name), int(fields[1])):
            continue
        if ending(fields) and all_ending(name) or killed(name):
            continue
        if group is None or int(fields[2]) != group:
            live.append(int(name))
    return live


PF_EXITING = 0x4  # the kernel's flag of a task in its exit: it never runs user code again


def ending(fields):
    """Whether the task of fields (its /proc stat after the name) is a zombie or in its exit."""
    return fields[0] in ("Z", "X") or int(fields[6]) & PF_EXITING != 0


def killed(pid):
    """Whether process pid has a SIGKILL pending (the kernel marks every thread of a process
    killed so): it never runs user code again."""
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith(("SigPnd:", "ShdPnd:")) and \
                        int(line.split()[1], 16) & (1 << (signal.SIGKILL - 1)):
                    return True
    except (OSError, ValueError, IndexError):
        return True  # gone
    return False


def all_ending(pid):
    """Whether every thread of process pid is a zombie or in its exit. Its first thread alone
    does not tell: one that ended while others go on shows as a zombie."""
    try:
        tasks = os.listdir("/proc/%s/task" % pid)
    except OSError:
        return True
    for tid in tasks:
        try:
            with open("/proc/%s/task/%s/stat" % (pid, tid)) as f:
                if not ending(f.read().rsplit(")", 1)[1].split()):
                    return False
        except (OSError, IndexError):
            continue  # gone
    return True


def stray_processes():
    """Count the processes a run left behind (process mode; see live_processes)."""
    return len(live_processes())


def own_threads():
    """The ids of this process's threads."""
    return set(os.listdir("/proc/self/task"))


def stray_threads(before):
    """Count the threads of this process a run left running (process mode: they would go on
    into the next run), given the threads there were before. A thread that is just ending (its
    function returned, its join done) is given a few milliseconds to go."""
    import time
    for _ in range(10):
        left = own_threads() - before
        if not left:
            return 0
        time.sleep(0.001)
    return len(left)


def sweep(spared=()):
    """Kill every live process but the init process, this runner and spared, until none is left;
    False when some survive (a fork bomb outrunning the kills)."""
    import time
    for attempt in range(200):
        live = live_processes(spared)
        if not live:
            return True
        for pid in live:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if attempt:
            time.sleep(0.001)  # kills that did not land at once: give them time
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
        return {"ok": False, "error": bounded_error(
            "ResultNotSerializable", "the return value is not JSON-serializable: %s" % safe_str(e))}
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
        out = os.dup(1)  # the import in check may print: only the verdict goes here
        msg = check(sys.argv[2])
        if msg:
            os.write(out, (CHECK_PREFIX + json.dumps(msg) + "\n").encode("utf-8"))
            os._exit(3)
        os._exit(0)
    mode = sys.argv[2] if len(sys.argv) == 3 and sys.argv[1] == "--serve" else "process"
    serve(mode)
    os._exit(0)


if __name__ == "__main__":
    main()
