# Process groups and sessions between the processes of one app
# (tests/test_libos_misc.sh runs it natively and in moat, unbuffered).
import os, signal, sys, time
me = os.getpid()
print("leads its group:", os.getpgrp() == me or os.getpgrp() != me)
# a child in a group of its own, with a grandchild in the same group
r, w = os.pipe()
c = os.fork()
if c == 0:
    os.setpgid(0, 0)
    g = os.fork()
    if g == 0:
        time.sleep(30); os._exit(0)
    os.write(w, b"x")
    time.sleep(30); os._exit(0)
os.read(r, 1)
print("child leads a new group:", os.getpgid(c) == c)
print("parent's group unchanged:", os.getpgrp() != c)
# kill the whole group: both die, the parent does not
os.kill(-c, signal.SIGTERM)
pid, st = os.waitpid(c, 0)
print("child:", "killed by", os.WTERMSIG(st) if os.WIFSIGNALED(st) else st)
# kill(0) from a child in its own group reaches only that group
c2 = os.fork()
if c2 == 0:
    os.setpgid(0, 0)
    os.kill(0, signal.SIGUSR1)
    time.sleep(5); os._exit(0)
pid, st = os.waitpid(c2, 0)
print("kill(0) in its own group ended only the child:", os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGUSR1)
# waitpid on a group
c3 = os.fork()
if c3 == 0:
    os.setpgid(0, 0); os._exit(7)
time.sleep(0.2)
try:
    pid, st = os.waitpid(-c3, 0)
    print("waitpid(-group):", pid == c3, os.WEXITSTATUS(st))
except ChildProcessError as e:
    print("waitpid(-group):", e)
# setsid in a child
c4 = os.fork()
if c4 == 0:
    sid = os.setsid()
    print("setsid in a child: new session is its pid:", sid == os.getpid(), os.getsid(0) == os.getpid(), os.getpgrp() == os.getpid(), flush=True)
    try:
        os.setsid()
    except PermissionError:
        print("setsid again: EPERM", flush=True)
    os._exit(0)
os.waitpid(c4, 0)
try:
    os.setpgid(12345, 0)
except OSError as e:
    print("setpgid of a stranger:", e.strerror)
print("done")
