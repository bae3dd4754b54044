# fifo.py -- named pipes as Linux makes them, printed so that a run under
# moat can be compared with a native run (tests/test_fifo.sh).
import errno, os, select, stat, sys, tempfile

def show(name, f):
    try:
        print(name, f())
    except OSError as e:
        print(name, errno.errorcode[e.errno])

d = tempfile.mkdtemp(dir="/tmp")
p = os.path.join(d, "f")
os.mkfifo(p, 0o640)
st = os.stat(p)
print("mkfifo: fifo", stat.S_ISFIFO(st.st_mode), "mode", oct(st.st_mode & 0o7777), "size", st.st_size)
show("mkfifo again", lambda: os.mkfifo(p))
print("listed", os.listdir(d))

# No reader: a non-blocking writer gets ENXIO.
show("O_WRONLY|O_NONBLOCK, no reader", lambda: os.open(p, os.O_WRONLY | os.O_NONBLOCK))
# A non-blocking reader opens at once; with no writer it reads end-of-file.
r = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
print("reader fstat fifo", stat.S_ISFIFO(os.fstat(r).st_mode))
show("read, no writer", lambda: os.read(r, 10))
w = os.open(p, os.O_WRONLY | os.O_NONBLOCK)
print("writer opens once a reader is there")
show("lseek", lambda: os.lseek(w, 0, 0))
os.write(w, b"abc")
print("poll", select.select([r], [], [], 5)[0] == [r])
show("read", lambda: os.read(r, 10))
show("read, writer open, nothing queued", lambda: os.read(r, 10))
show("write on the read end", lambda: os.write(r, b"x"))
os.close(w)
# (poll first: the end reaches the reader a moment after the close)
print("poll after the writer closed", select.select([r], [], [], 5)[0] == [r])
show("read after the writer closed", lambda: os.read(r, 10))
os.close(r)

# Blocking opens meet: a child writes, the parent reads to the end.
pid = os.fork()
if pid == 0:
    fd = os.open(p, os.O_WRONLY)
    for i in range(3):
        os.write(fd, b"line %d from the child\n" % i)
    os._exit(0)
fd = os.open(p, os.O_RDONLY)
data = b""
while True:
    chunk = os.read(fd, 7)
    if not chunk:
        break
    data += chunk
os.close(fd)
print("child wrote", os.waitpid(pid, 0)[1], repr(data))

# The same the other way: the reader is the child, opened first.
pid = os.fork()
if pid == 0:
    fd = os.open(p, os.O_RDONLY)
    got = os.read(fd, 100)
    os._exit(0 if got == b"to the child" else 1)
fd = os.open(p, os.O_WRONLY)
os.write(fd, b"to the child")
os.close(fd)
print("child read it", os.waitpid(pid, 0)[1])

# Two writers at once: the reader sees both, and the end after both.
# (Each says when it is open, and writes once both are, so that the end
# cannot come between them.)
opened_r, opened_w = os.pipe()
go_r, go_w = os.pipe()
pids = []
for n in (1, 2):
    pid = os.fork()
    if pid == 0:
        os.close(go_w)
        fd = os.open(p, os.O_WRONLY)
        os.write(opened_w, b"o")
        os.read(go_r, 1)
        os.write(fd, b"writer %d\n" % n)
        os._exit(0)
    pids.append(pid)
fd = os.open(p, os.O_RDONLY)
os.read(opened_r, 1), os.read(opened_r, 1)
os.close(go_w)
data = b""
while True:
    ep = select.epoll()
    ep.register(fd, select.EPOLLIN)
    ep.poll(5)
    ep.close()
    chunk = os.read(fd, 100)
    if not chunk:
        break
    data += chunk
for pid in pids:
    os.waitpid(pid, 0)
os.close(fd)
print("two writers, epoll", sorted(data.splitlines()))

# O_RDWR never waits, and reads what it wrote.
fd = os.open(p, os.O_RDWR)
os.write(fd, b"self")
print("O_RDWR", os.read(fd, 10))
os.close(fd)

# mknod makes FIFOs and regular files; devices are refused.
q = os.path.join(d, "g")
os.mknod(q, 0o600 | stat.S_IFIFO)
print("mknod S_IFIFO: fifo", stat.S_ISFIFO(os.stat(q).st_mode), oct(os.stat(q).st_mode & 0o7777))
os.mknod(os.path.join(d, "reg"), 0o600 | stat.S_IFREG)
print("mknod S_IFREG: regular", stat.S_ISREG(os.stat(os.path.join(d, "reg")).st_mode))
for name in os.listdir(d):
    os.unlink(os.path.join(d, name))
os.rmdir(d)
print("done")
