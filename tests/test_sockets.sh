#!/usr/bin/env bash
# UDP through grants and unix sockets between the processes of one app,
# with python3 inside; each compared with a native run where the two can
# be the same, and each refusal shown to leave the host untouched:
#   - udp.client: sendto/recvfrom/connect to a host UDP echo server,
#     datagram boundaries, MSG_PEEK, truncation, poll; a remapped address;
#     ungranted destinations and binds fail with EACCES and send nothing.
#   - udp.server: a server inside answers a host client.
#   - unix stream sockets, named (a path) and abstract, between a server
#     process and a forked client; MSG_PEEK; a host socket, abstract or
#     in a mapped directory, cannot be reached.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP sockets: python3 missing"; exit 0; }
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
SYS="--ro /usr --ro /lib --ro /lib64"
free_udp_port() { "$PY" -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A host UDP echo server (replies in upper case) logging what it got.
udp_echo() {
	"$PY" -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
while True:
    d, a = s.recvfrom(65536)
    with open(sys.argv[2], "a") as log:
        log.write("%d bytes\n" % len(d))
    s.sendto(d.upper(), a)' "$1" "$2" &
	sleep 0.3
}

UP=$(free_udp_port)
udp_echo "$UP" "$WORK/echo.log"
UP2=$(free_udp_port)
udp_echo "$UP2" "$WORK/echo2.log"

cat >"$WORK/udp_client.py" <<'EOF'
import select, socket, sys
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.sendto(b"hello", ("127.0.0.1", port))
print("recvfrom:", s.recvfrom(100))
s.sendto(b"abcdef", ("127.0.0.1", port))
print("readable:", select.select([s], [], [], 5)[0] == [s])
print("peek 3:", s.recvfrom(3, socket.MSG_PEEK)[0])
print("then:", s.recv(100))
s.sendto(b"0123456789", ("127.0.0.1", port))
data, anc, flags, addr = s.recvmsg(4)
print("recvmsg 4:", data, "truncated:", bool(flags & socket.MSG_TRUNC))
s.sendto(b"boundaries", ("127.0.0.1", port))
s.sendto(b"kept", ("127.0.0.1", port))
print("two datagrams:", s.recv(100), s.recv(100))
s.connect(("127.0.0.1", port))
print("peer:", s.getpeername())
big = bytes(range(256)) * 200
s.send(big)
r = s.recv(65536)
print("51200 bytes back:", len(r), r == big.upper())
s.setblocking(False)
try:
    s.recv(10)
except BlockingIOError:
    print("nothing pending: EAGAIN")
EOF
GRANTS="$SYS --ro $WORK/udp_client.py --net udp.client://127.0.0.1:$UP=udp.client://127.0.0.1:$UP"
same_output "udp.client: sendto, recvfrom, MSG_PEEK, truncation, connect, 50 KB datagrams" \
	"$PY" "$WORK/udp_client.py" "$UP"

# A grant can remap: the app talks to 10.9.8.7:53; replies come from there.
out=$("$MOAT" run $SYS --net "udp.client://10.9.8.7:53=udp.client://127.0.0.1:$UP" -- "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.sendto(b"query", ("10.9.8.7", 53)); print(s.recvfrom(100))' 2>&1)
check_eq "udp.client remaps 10.9.8.7:53 to the host echo server" "(b'QUERY', ('10.9.8.7', 53))" "$out"

# Refusals: a destination, a connect and a bind that no grant covers.
: >"$WORK/echo2.log"
out=$("$MOAT" run $SYS --net "udp.client://127.0.0.1:$UP=udp.client://127.0.0.1:$UP" -- "$PY" -c "
import errno, socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for what, call in (('sendto', lambda: s.sendto(b'x', ('127.0.0.1', $UP2))),
                   ('connect', lambda: s.connect(('127.0.0.1', $UP2))),
                   ('bind', lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).bind(('0.0.0.0', 5353)))):
    try:
        call(); print(what, 'succeeded')
    except OSError as e:
        print(what, errno.errorcode[e.errno])
s.sendto(b'granted', ('127.0.0.1', $UP)); print('granted still works')" 2>&1)
check_eq "ungranted UDP sendto, connect and bind fail with EACCES" "sendto EACCES
connect EACCES
bind EACCES
granted still works" "$out"
sleep 0.3
if [ -s "$WORK/echo2.log" ]; then
	fail "the ungranted host UDP server received nothing" "$(cat "$WORK/echo2.log")"
else
	pass "the ungranted host UDP server received nothing"
fi
out=$("$MOAT" run $SYS -- "$PY" -c "
import socket
try:
    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('127.0.0.1', $UP2))
except PermissionError as e: print(e)" 2>&1)
check_eq "without any grant, UDP sendto fails with EACCES" "[Errno 13] Permission denied" "$out"

# A server inside, on a granted port, answering a host client.
HP=$(free_udp_port)
"$MOAT" run $SYS --net "udp.server://0.0.0.0:9999=udp.server://127.0.0.1:$HP" -- "$PY" -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9999))
print("bound", s.getsockname(), flush=True)
for i in range(3):
    d, a = s.recvfrom(100)
    s.sendto(d[::-1], a)' >"$WORK/userver.out" 2>&1 &
SRV=$!
got=$("$PY" -c "
import socket, time
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); c.settimeout(0.5)
out = []
for m in (b'first', b'second', b'third'):
    for _ in range(40):
        c.sendto(m, ('127.0.0.1', $HP))
        try:
            out.append(c.recvfrom(100)[0].decode()); break
        except socket.timeout:
            pass
print(' '.join(out))" 2>&1)
wait $SRV
rc=$?
check_eq "udp.server: a server inside answers a host client" "tsrif dnoces driht" "$got"
check_eq "udp.server: it saw its virtual address and exited 0" "bound ('0.0.0.0', 9999)|0" \
	"$(cat "$WORK/userver.out")|$rc"

# --------------------------------------------------------------- unix
UX=$WORK/ux
mkdir -p "$UX"
cat >"$UX/unix.py" <<'EOF'
import os, select, socket, stat, sys
d = sys.argv[1]
path = os.path.join(d, "s.sock")
abstract = "\0moat-test-" + sys.argv[2]
for name in (path, abstract):
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(name)
    srv.listen(4)
    print("bound:", srv.getsockname() == (name if name[0] != "\0" else name.encode()))
    if name[0] != "\0":
        print("a socket file:", stat.S_ISSOCK(os.stat(name).st_mode))
        try:
            socket.socket(socket.AF_UNIX).bind(name)
        except OSError as e:
            print("second bind:", os.strerror(e.errno))
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(name)
        c.sendall(b"hello from the child")
        print("child got:", c.recv(100), "peer ok:", c.getpeername() == srv.getsockname(), flush=True)
        os._exit(0)
    conn, addr = srv.accept()
    print("accepted from an unnamed peer:", addr in ("", b""))
    print("readable:", select.select([conn], [], [], 5)[0] == [conn])
    print("peek 5:", conn.recv(5, socket.MSG_PEEK))
    data = conn.recv(100)
    print("then:", data)
    conn.sendall(data.upper())
    print("child status:", os.waitpid(pid, 0)[1])
    conn.close(); srv.close()
os.unlink(path)
for name in (path, abstract):
    try:
        socket.socket(socket.AF_UNIX).connect(name)
    except OSError as e:
        print("after unlink/close:", e.strerror)
EOF
GRANTS="$SYS --rw $UX"
same_output "unix sockets by path and abstract name between a server and its forked client" \
	"$PY" "$UX/unix.py" "$UX" "$$"
GRANTS="$SYS --ro $UX"
same_output "unix sockets: the same in the private /tmp" "$PY" "$UX/unix.py" /tmp "$$"

# Sockets of the host, abstract or in a mapped directory, are unreachable.
# The host listeners count the connections they got once told to stop.
"$PY" -c '
import os, socket, sys, time
socks = []
for name in ("\0moat-host-" + sys.argv[1], sys.argv[2]):
    s = socket.socket(socket.AF_UNIX); s.bind(name); s.listen(4); s.setblocking(False)
    socks.append(s)
open(sys.argv[3] + ".ready", "w").close()
while not os.path.exists(sys.argv[3] + ".stop"):
    time.sleep(0.05)
n = 0
for s in socks:
    try:
        while s.accept(): n += 1
    except BlockingIOError:
        pass
open(sys.argv[3], "w").write("%d connections\n" % n)' "$$" "$UX/host.sock" "$WORK/hostsock" &
HOSTSOCK=$!
for _ in $(seq 50); do [ -e "$WORK/hostsock.ready" ] && break; sleep 0.1; done
out=$("$MOAT" run $SYS --rw "$UX" -- "$PY" -c "
import socket, os, stat
print('host socket file visible:', stat.S_ISSOCK(os.stat('$UX/host.sock').st_mode))
for name in ('\0moat-host-$$', '$UX/host.sock'):
    try:
        socket.socket(socket.AF_UNIX).connect(name); print('connected!')
    except OSError as e:
        print(e.strerror)" 2>&1)
check_eq "a host abstract socket and a host socket in a mapped directory are unreachable" \
	"host socket file visible: True
Connection refused
Connection refused" "$out"
touch "$WORK/hostsock.stop"
wait $HOSTSOCK
check_eq "the host unix listeners saw no connection" "0 connections" "$(cat "$WORK/hostsock" 2>&1)"

# --------------------------------------------------------------- grants
# The manifest form of a udp grant, and malformed ones refused with one line.
cat >"$WORK/udp.ini" <<EOF2
[Application]
entry = file://$PY
[Namespace]
file:///usr = file:///usr
file:///lib = file:///lib
file:///lib64 = file:///lib64
[Namespace.Writable]
udp.client://10.0.0.53:53 = udp.client://127.0.0.1:$UP
EOF2
out=$("$MOAT" run "$WORK/udp.ini" -- -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5)
s.connect(("10.0.0.53", 53)); s.send(b"from a manifest"); print(s.recv(100))' 2>&1)
check_eq "a udp.client grant in [Namespace.Writable]" "b'FROM A MANIFEST'" "$out"
out=$("$MOAT" run --net "udp.server://0.0.0.0:*=udp.server://127.0.0.1:*" -- /bin/true 2>&1)
rc=$?
check_eq "a udp.server grant without a port is refused" \
	"2|moat: --net: a udp.server grant names one port: 'udp.server://0.0.0.0:*'" "$rc|$out"
out=$("$MOAT" run --net "udp.client://*:53=tcp.client://*:53" -- /bin/true 2>&1)
rc=$?
[ $rc -eq 2 ] && [[ $out == *"both sides must be the same kind"* ]] &&
	pass "udp on one side and tcp on the other is refused" ||
	fail "udp on one side and tcp on the other is refused" "status $rc: $out"

# --------------------------------------------------------------- relay
# A subverted LibOS writing its own relay packets: the monitor still
# checks each destination.  The forged packet to the granted port gets
# through (so the relay was found); the one to another port does not.
ESC=$BUILD/tests/escape
if [ -x "$ESC" ]; then
	: >"$WORK/echo.log"
	: >"$WORK/echo2.log"
	out=$("$MOAT" run --net "udp.client://127.0.0.1:$UP=udp.client://127.0.0.1:$UP" \
		-- "$ESC" gate udprelay "$UP" "$UP2" 2>&1)
	sleep 0.3
	took=$(echo "$out" | sed -n 's/^gate udprelay: \([0-9][0-9]*\).*/\1/p')
	if [ "${took:-0}" -ge 1 ] && grep -q '^12 bytes$' "$WORK/echo.log" && [ ! -s "$WORK/echo2.log" ]; then
		pass "forged relay packets reach only granted destinations (relay took them on $took fd)"
	else
		fail "forged relay packets reach only granted destinations" \
			"$(echo "$out" | tail -2 | tr '\n' '|') granted: $(tr '\n' ' ' <"$WORK/echo.log") other: $(tr '\n' ' ' <"$WORK/echo2.log")"
	fi
else
	fail "forged relay packets" "$ESC is missing (make $ESC)"
fi
