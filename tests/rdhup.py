# rdhup.py -- poll and epoll report POLLRDHUP once the peer has shut down
# its side, and not before; data read to find out is not lost.
import select
import socket

a, b = socket.socketpair()
p = select.poll()
p.register(a, select.POLLIN | select.POLLRDHUP)
print("idle:", p.poll(0))
b.send(b"hello")
print("data:", [(fd == a.fileno(), ev) for fd, ev in p.poll(0)])
b.shutdown(socket.SHUT_WR)
print("data then shutdown:", [(fd == a.fileno(), ev) for fd, ev in p.poll(0)])
print("read:", a.recv(100))
ep = select.epoll()
ep.register(a, select.EPOLLIN | select.EPOLLRDHUP)
print("epoll at end of file:", [(fd == a.fileno(), ev) for fd, ev in ep.poll(0)])
print("read at end:", a.recv(100))
