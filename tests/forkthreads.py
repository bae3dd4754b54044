# forkthreads.py -- fork while other threads open files, stat, allocate
# and take locks: the children must run (no lock left held by a thread
# they do not have) and the parent's descriptors must stay its own (two
# threads opening at once never get the same descriptor).
import os
import threading

stop = False
errors = []


def worker():
    try:
        while not stop:
            with open("/etc/hostname") as f:
                f.read()
            os.stat("/usr/lib")
            blocks = [bytearray(1000) for _ in range(50)]
            del blocks
    except OSError as e:
        errors.append(repr(e))


threads = [threading.Thread(target=worker) for _ in range(3)]
for t in threads:
    t.start()
statuses = set()
for i in range(100):
    pid = os.fork()
    if pid == 0:
        with open("/etc/hostname") as f:
            f.read()
        blocks = [bytearray(5000) for _ in range(100)]
        os._exit(7)
    _, st = os.waitpid(pid, 0)
    statuses.add(os.WEXITSTATUS(st))
stop = True
for t in threads:
    t.join()
print("children exited with", sorted(statuses))
print("errors in the threads:", errors)
