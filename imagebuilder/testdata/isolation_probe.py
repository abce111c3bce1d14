"""Probe of the isolation between runs, deployed by the runner's tests and the integration tests.

Each run does what args["do"] says:
  "leave" leaves behind every kind of residue marked with args["canary"] ("ISO-CANARY-" and 32
          hex digits): module state, output, result, /tmp files in locked directories, /dev/shm
          files, a POSIX message queue, SysV shared memory, semaphores and message queues
          (result "missing": those the kernel does not offer);
          and a survivor: a process out of the run's group and session whose first thread
          ends while a second, named "iso-survivor", lives on (its first thread then shows as
          a zombie);
  "look"  reports what it can still reach of any earlier run (a survivor included), and how
          far it can reach the runner's processes (the parent, the grandparent and pid 1);
  "thread" starts a thread that outlives the run (args["join"]: one that does not).
Works on Python 3.8 and later, standard library only."""
import ctypes
import errno
import gc
import os
import re
import sys
import threading
import time

CANARY = re.compile(rb"ISO-CANARY-[0-9a-f]{32}")
SYSV_KEY = 0x5EED
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
kept = []


def main(args, context):
    return {"leave": leave, "look": look, "thread": thread}[args["do"]](args)


def leave(args):
    canary = args["canary"]
    kept.append(dict(args))  # module state and one more object holding it
    print("printed", canary)
    leave_files("/tmp", canary)
    leave_files("/dev/shm", canary)
    missing = []  # kinds of residue the kernel (gVisor's, say) does not offer
    if os.path.isdir("/dev/mqueue"):
        os.close(os.open("/dev/mqueue/probe-queue", os.O_CREAT | os.O_RDWR, 0o600))
    else:
        missing.append("/dev/mqueue")
    missing.extend(leave_sysv(canary.encode()))
    leave_survivor()
    return {"canary": canary, "host": os.uname().nodename, "missing": missing}


SURVIVOR = b"iso-survivor"


def leave_survivor():
    """Start a survivor (see "leave") and return once its second thread has its name."""
    ready_r, ready_w = os.pipe()
    if os.fork() == 0:
        os.setsid()

        def linger():
            libc.prctl(15, SURVIVOR, 0, 0, 0)  # PR_SET_NAME: this thread's comm
            os.write(ready_w, b"xx")  # a byte for each of the two readers
            while True:
                time.sleep(1)
        threading.Thread(target=linger).start()
        os.read(ready_r, 1)
        # The first thread ends (the exit system call ends the calling thread only, with no
        # unwinding); the process goes on.
        libc.syscall({"x86_64": 60, "aarch64": 93}[os.uname().machine], 0)
    os.close(ready_w)
    os.read(ready_r, 1)
    os.close(ready_r)


def survivors():
    """The pids of the processes with a thread named like a survivor."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            tasks = os.listdir("/proc/%s/task" % pid)
        except OSError:
            continue
        for tid in tasks:
            try:
                with open("/proc/%s/task/%s/comm" % (pid, tid), "rb") as f:
                    if f.read().strip() == SURVIVOR:
                        found.append(pid)
                        break
            except OSError:
                continue
    return found


def leave_files(top, canary):
    """A file in a directory locked (mode 000) inside another locked one, a mode-000 file, a
    symlink to the locked tree."""
    inner = os.path.join(top, "locked", "inner")
    os.makedirs(inner)
    with open(os.path.join(inner, "secret"), "w") as f:
        f.write(canary)
    with open(os.path.join(top, "mode-000"), "w") as f:
        f.write(canary)
    os.chmod(os.path.join(top, "mode-000"), 0)
    os.symlink(os.path.join(top, "locked"), os.path.join(top, "link"))
    os.chmod(inner, 0)
    os.chmod(os.path.join(top, "locked"), 0)


def leave_sysv(data):
    """Leaves the three SysV objects; returns those the kernel refused to create."""
    IPC_CREAT = 0o1000
    missing = []
    shm = libc.shmget(SYSV_KEY, 4096, IPC_CREAT | 0o600)
    addr = libc.shmat(shm, None, 0) if shm >= 0 else None
    if addr in (None, ctypes.c_void_p(-1).value):
        missing.append("SysV shm")
    else:
        ctypes.memmove(addr, data, len(data))
        libc.shmdt(ctypes.c_void_p(addr))
    if libc.semget(SYSV_KEY, 1, IPC_CREAT | 0o600) < 0:
        missing.append("SysV sem")
    msq = libc.msgget(SYSV_KEY, IPC_CREAT | 0o600)
    msg = ctypes.create_string_buffer(8 + len(data))
    ctypes.memmove(ctypes.addressof(msg), ctypes.byref(ctypes.c_long(1)), 8)
    ctypes.memmove(ctypes.addressof(msg) + 8, data, len(data))
    if msq < 0 or libc.msgsnd(msq, msg, len(data), 0) != 0:
        missing.append("SysV msg")
    return missing


def look(args):
    return {
        "host": os.uname().nodename,  # the container: the same as the leaving run's
        "frames": sorted(frame_matches()),
        "objects": sorted(object_matches()),
        "memory": sorted(memory_matches()),
        "tmp": listing("/tmp"),
        "shm": listing("/dev/shm"),
        "mqueue": listing("/dev/mqueue"),
        "sysv": sysv_objects(),
        "survivors": survivors(),
        "sysv_key": [kind for kind, get in (("shm", lambda: libc.shmget(SYSV_KEY, 0, 0)),
                                            ("sem", lambda: libc.semget(SYSV_KEY, 0, 0)),
                                            ("msg", lambda: libc.msgget(SYSV_KEY, 0))) if get() >= 0],
        "runner": {str(pid): reach(pid) for pid in runner_pids()},
        "own": own_reach(),
    }


def matches_in(value, found, depth=0):
    if isinstance(value, str):
        value = value.encode("utf-8", "replace")
    if isinstance(value, (bytes, bytearray)):
        found.update(m.decode() for m in CANARY.findall(value))
    elif depth < 6 and isinstance(value, dict):
        for k, v in list(value.items()):
            matches_in(k, found, depth + 1)
            matches_in(v, found, depth + 1)
    elif depth < 6 and isinstance(value, (list, tuple, set, frozenset)):
        for v in list(value):
            matches_in(v, found, depth + 1)


def frame_matches():
    """What the frames above this one (the runner's, up to the process's first) hold."""
    found = set()
    f = sys._getframe(1)
    while f is not None:
        matches_in(dict(f.f_locals), found)
        f = f.f_back
    return found


def object_matches():
    found = set()
    for obj in gc.get_objects():
        if isinstance(obj, (dict, list, tuple, set, bytearray)):
            matches_in(obj, found, 5)  # one level: every container is listed itself
        elif hasattr(obj, "__dict__") and isinstance(getattr(obj, "__dict__", None), dict):
            matches_in(obj.__dict__, found, 5)
    return found


def memory_matches():
    """The canaries anywhere in this process's writable memory, freed blocks included."""
    found = set()
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            fields = line.split()
            if not fields[1].startswith("rw") or (len(fields) > 5 and fields[5].startswith("[v")):
                continue
            start, end = (int(x, 16) for x in fields[0].split("-"))
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            found.update(m.decode() for m in CANARY.findall(data))
    return found


def listing(top):
    """Every name under top, those in directories this run cannot enter included (none when
    there is no top: gVisor mounts no /dev/mqueue)."""
    if not os.path.lexists(top):
        return []
    names = []
    for dirpath, dirnames, filenames in os.walk(top, onerror=lambda e: names.append("unreadable:" + e.filename)):
        names.extend(os.path.join(dirpath, n) for n in dirnames + filenames)
    return sorted(names)


def sysv_objects():
    """The SysV objects /proc lists (gVisor lists none: "sysv_key" looks them up instead)."""
    out = []
    for kind in ("shm", "sem", "msg"):
        if not os.path.exists("/proc/sysvipc/" + kind):
            continue
        with open("/proc/sysvipc/" + kind) as f:
            out.extend(kind + ": " + " ".join(line.split()[:3]) for line in f.readlines()[1:] if line.strip())
    return out


def runner_pids():
    parent = os.getppid()
    with open("/proc/%d/stat" % parent) as f:
        grandparent = int(f.read().rsplit(")", 1)[1].split()[1])
    return sorted({parent, grandparent, 1} - {0})


def attempt(fn):
    """"ok", or the errno name of the failure."""
    try:
        fn()
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def seize(pid):
    if libc.ptrace(0x4206, pid, None, None) != 0:  # PTRACE_SEIZE: the tracee does not even stop
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def reach(pid):
    """How far this run reaches process pid: tracing it, reading its memory and descriptors
    (the protocol streams among them), signalling it."""
    def open_mem():  # the access check is at open: any mapped address can be read then
        os.close(os.open("/proc/%d/mem" % pid, os.O_RDONLY))
    def open_stdout():
        os.close(os.open("/proc/%d/fd/1" % pid, os.O_WRONLY | os.O_NONBLOCK))
    return {
        "ptrace": attempt(lambda: seize(pid)),
        "mem": attempt(open_mem),
        "environ": attempt(lambda: open("/proc/%d/environ" % pid, "rb").close()),
        "fds": attempt(lambda: os.readlink("/proc/%d/fd/0" % pid)),
        "stdout": attempt(open_stdout),
        "signal": attempt(lambda: os.kill(pid, 0)),
    }


def own_reach():
    """The run keeps every power over its own processes: its memory, tracing its own child."""
    def read_own_mem():
        with open("/proc/self/mem", "rb", 0) as f, open("/proc/self/maps") as maps:
            f.seek(int(maps.readline().split("-")[0], 16))
            f.read(1)
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    try:
        return {"mem": attempt(read_own_mem), "ptrace child": attempt(lambda: seize(pid)),
                "signal child": attempt(lambda: os.kill(pid, 0))}
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)


def thread(args):
    t = threading.Thread(target=time.sleep, args=(0 if args.get("join") else 300,), daemon=True)
    t.start()
    if args.get("join"):
        t.join()
    return threading.active_count()
