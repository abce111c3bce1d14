"""faaspot runner: baked into every deployment image at /opt/faaspot/runner.py.

Run mode (no arguments): reads one JSON document {"args", "context", "output_limit",
"result_limit"} from stdin, imports the function module, calls main(args, context) and writes one
result frame, a single JSON line, to the original stdout. What the function prints (fd 1 and 2) is
captured apart through pipes, capped at output_limit bytes each, so it can never be mistaken for
the frame. stdin is /dev/null while the function runs.

Check mode (--check PATH): validates at build time that PATH defines main(args, context); on
failure prints one line "FAASPOT-CHECK: <message>" and exits 3.

Works on Python 3.8 and later, standard library only.
"""
import ast
import json
import os
import sys
import threading
import traceback

FUNCTION_PATH = "/opt/faaspot/function/main.py"
SITE_DIR = "/opt/faaspot/site"
CHECK_PREFIX = "FAASPOT-CHECK: "


def check(path):
    """Return None when the module at path defines a usable main, else a message."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), filename="main.py")
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
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


class Capture(object):
    """Redirects one file descriptor into a pipe drained by a thread, keeping at most limit bytes."""

    def __init__(self, fd, limit):
        self.fd, self.limit = fd, limit
        self.buf = bytearray()
        self.total = 0
        self.lock = threading.Lock()
        r, w = os.pipe()
        os.dup2(w, fd)
        os.close(w)
        self.r = r
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        while True:
            try:
                chunk = os.read(self.r, 65536)
            except OSError:
                return
            if not chunk:
                return
            with self.lock:
                room = self.limit - len(self.buf)
                if room > 0:
                    self.buf += chunk[:room]
                self.total += len(chunk)

    def finish(self, devnull):
        """Restore fd to /dev/null and return (text, truncated)."""
        os.dup2(devnull, self.fd)
        # Background processes of the function may still hold the pipe; do not wait for them.
        self.thread.join(0.2)
        with self.lock:
            return bytes(self.buf).decode("utf-8", "replace"), self.total > self.limit


def error_of(exc):
    """Describe an exception of the function: its frames only, not the runner's or importlib's."""
    here = os.path.abspath(__file__)
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if os.path.abspath(f.filename) != here and not f.filename.startswith("<frozen")]
    tb = "Traceback (most recent call last):\n" + "".join(traceback.format_list(frames)) + \
        "".join(traceback.format_exception_only(type(exc), exc))
    return {"type": type(exc).__name__, "message": str(exc), "traceback": tb}


def run():
    out = os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        doc = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    except Exception as e:  # the daemon always sends JSON; this is a protocol failure
        write_frame(out, {"ok": False, "error": {"type": "ProtocolError", "message": "bad input: %s" % e}})
        return
    os.dup2(devnull, 0)
    limit = int(doc.get("output_limit") or 1 << 20)
    result_limit = int(doc.get("result_limit") or 1 << 20)
    sys.stdout.flush()
    sys.stderr.flush()
    cap_out, cap_err = Capture(1, limit), Capture(2, limit)
    for stream in (sys.stdout, sys.stderr):
        try:  # keep the function's prints in order with those of its child processes
            stream.reconfigure(line_buffering=True)
        except Exception:
            pass
    pid = os.getpid()
    frame = call(doc.get("args") or {}, doc.get("context") or {}, result_limit)
    if os.getpid() != pid:
        # A process the function forked came back through here: only the runner answers.
        os._exit(0)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    frame["stdout"], frame["stdout_truncated"] = cap_out.finish(devnull)
    frame["stderr"], frame["stderr_truncated"] = cap_err.finish(devnull)
    write_frame(out, frame)


def call(args, context, result_limit):
    if os.path.isdir(SITE_DIR):
        sys.path.insert(0, SITE_DIR)
    sys.path.insert(0, os.path.dirname(FUNCTION_PATH))
    try:
        import importlib.util
        spec = importlib.util.spec_from_file_location("main", FUNCTION_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules["main"] = module
        spec.loader.exec_module(module)
        main = getattr(module, "main", None)
        if not callable(main):
            return {"ok": False, "error": {"type": "NoMain", "message": "the code defines no main(args, context)"}}
        value = main(args, context)
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
    run()
    os._exit(0)


if __name__ == "__main__":
    main()
