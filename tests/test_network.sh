#!/usr/bin/env bash
# Networking through policy (the LibOS ladder, step 10): a server inside
# serves the host on a granted port; a client inside reaches a host server
# through a granted tcp.client mapping; both are refused when not granted,
# and then the host sees no connection at all.
. "$(dirname "$0")/lib.sh"

SYS="--ro /usr --ro /lib --ro /lib64 --ro /bin --ro /etc"
PY=/usr/bin/python3
[ -x "$PY" ] && command -v curl >/dev/null || { echo "SKIP network: python3 or curl missing"; exit 0; }

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
mkdir -p "$WORK/www"
echo "page served from inside" >"$WORK/www/index.html"

# --- a server inside, fetched from the host ---
HPORT=$(free_port)
"$MOAT" run $SYS --ro "$WORK/www:/www" --cwd /www \
	--net "tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:$HPORT" \
	-- $PY -m http.server 8080 --bind 0.0.0.0 >"$WORK/srv.out" 2>&1 &
SRV=$!
got=
for _ in $(seq 50); do
	got=$(curl -s --max-time 2 "http://127.0.0.1:$HPORT/index.html") && [ -n "$got" ] && break
	sleep 0.1
done
check_eq "python3 -m http.server inside serves curl on the host" "page served from inside" "$got"
kill $SRV 2>/dev/null; wait $SRV 2>/dev/null

# --- the same server without a grant cannot listen ---
out=$(timeout 10 "$MOAT" run $SYS --ro "$WORK/www:/www" --cwd /www \
	-- $PY -m http.server 8080 --bind 0.0.0.0 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ $out == *"Permission denied"* ]]; then
	pass "an ungranted listen fails with EACCES (status $rc)"
else
	fail "an ungranted listen fails with EACCES" "status $rc: ${out:0:200}"
fi

# --- a host server, fetched from inside ---
CPORT=$(free_port)
(cd "$WORK/www" && exec $PY -m http.server "$CPORT" --bind 127.0.0.1) >"$WORK/host.log" 2>&1 &
HOST=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$CPORT/" && break; sleep 0.1; done
: >"$WORK/host.log"
got=$("$MOAT" run $SYS --net "tcp.client://127.0.0.1:$CPORT=tcp.client://*:*" \
	-- curl -s --max-time 5 "http://127.0.0.1:$CPORT/index.html" 2>&1)
check_eq "curl inside fetches from a host server through tcp.client" "page served from inside" "$got"
grep -q 'GET /index.html' "$WORK/host.log" && pass "the host server logged the request" ||
	fail "the host server logged the request" "$(cat "$WORK/host.log")"

# A grant can also remap: the app names port 80, the host port is another.
got=$("$MOAT" run $SYS --net "tcp.client://10.1.2.3:80=tcp.client://127.0.0.1:$CPORT" \
	-- curl -s --max-time 5 "http://10.1.2.3/index.html" 2>&1)
check_eq "a tcp.client grant remaps 10.1.2.3:80 to the host server" "page served from inside" "$got"

# --- refused without a grant; the host sees nothing ---
: >"$WORK/host.log"
out=$("$MOAT" run $SYS -- curl -sS --max-time 5 "http://127.0.0.1:$CPORT/index.html" 2>&1)
rc=$?
if [ $rc -eq 7 ] && [[ $out == *"Couldn't connect"* ]]; then
	pass "an ungranted connect is refused (curl exit 7)"
else
	fail "an ungranted connect is refused" "status $rc: ${out:0:200}"
fi
# A grant for another port does not cover this one.
out=$("$MOAT" run $SYS --net "tcp.client://127.0.0.1:1=tcp.client://*:*" \
	-- curl -sS --max-time 5 "http://127.0.0.1:$CPORT/index.html" 2>&1)
[ $? -eq 7 ] && pass "a grant for another port does not cover this one" ||
	fail "a grant for another port does not cover this one" "${out:0:200}"
sleep 0.2
if [ -s "$WORK/host.log" ]; then
	fail "the host server saw no request from refused connects" "$(head -3 "$WORK/host.log")"
else
	pass "the host server saw no request from refused connects"
fi
kill $HOST 2>/dev/null; wait $HOST 2>/dev/null

# --- local socket pairs and asyncio, which needs them ---
out=$("$MOAT" run $SYS -- $PY -c '
import asyncio, socket
a, b = socket.socketpair(); a.sendall(b"pair"); print(b.recv(4).decode())
async def main():
    p = await asyncio.create_subprocess_exec("echo", "from a child", stdout=asyncio.subprocess.PIPE)
    out, _ = await p.communicate(); print(out.decode().strip())
asyncio.run(main())' 2>&1)
check_eq "socketpair and asyncio subprocess pipes" "pair
from a child" "$out"

# --- bad grants are refused with a clear error ---
out=$("$MOAT" run --net "tcp.server://0.0.0.0:*=tcp.server://127.0.0.1:1" -- /bin/busybox true 2>&1)
rc=$?
[ $rc -eq 2 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && pass "a tcp.server grant without a port is refused: $out" ||
	fail "a tcp.server grant without a port is refused" "status $rc: $out"
