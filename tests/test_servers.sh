#!/usr/bin/env bash
# Servers people sandbox (the LibOS ladder, steps 13 and 14), unmodified
# from Debian, each inside a picoprocess on a granted port and driven by
# the native client on the host:
#   - redis-server answers redis-cli: 1000 SETs and GETs, a BGSAVE (fork),
#     SHUTDOWN SAVE with exit status 0; the dump it wrote loads in a native
#     redis; SIGTERM through moat ends it cleanly too; without a grant it
#     cannot listen, and an ungranted outbound connection (REPLICAOF) never
#     reaches the host.
#   - nginx (nginx-light), master and worker processes, serves a static file
#     byte for byte to curl, and stops cleanly with `nginx -s quit`.
. "$(dirname "$0")/lib.sh"

SYS="--ro /usr --ro /lib --ro /lib64 --ro /bin --ro /etc"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP servers: python3 missing"; exit 0; }
# Whatever is still running when the file ends (after a failure) goes too.
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$WORK"' EXIT
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for CMD...: retry CMD (quietly) for up to 10 s.
wait_for() {
	for _ in $(seq 100); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
	return 1
}

# A host listener that records every connection it gets in $1 (one line
# each), to show that refused traffic never reached the host.
host_listener() {
	"$PY" -c '
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
while True:
    c, a = s.accept()
    open(sys.argv[2], "a").write("connection from %s:%d\n" % a); c.close()
' "$1" "$2" &
	LISTENER=$!
	wait_for "$PY" -c "import socket; socket.create_connection(('127.0.0.1', $1)).close()"
	sleep 0.2
	: >"$2"
}

# ------------------------------------------------------------------ redis
redis_tests() {
	RD=$WORK/redis
	mkdir -p "$RD"
	RPORT=$(free_port)
	cli() { timeout 30 redis-cli -p "$RPORT" "$@"; }
	pong() { [ "$(timeout 2 redis-cli -p "$1" ping 2>&1)" == PONG ]; }
	"$MOAT" run $SYS --rw "$RD:/data" --cwd /data \
		--net "tcp.server://0.0.0.0:6379=tcp.server://127.0.0.1:$RPORT" \
		-- /usr/bin/redis-server --port 6379 --daemonize no --dir /data \
		--save '' --logfile /data/redis.log >"$WORK/redis.out" 2>&1 &
	SRV=$!
	if wait_for pong "$RPORT"; then
		pass "redis-server inside answers PING from redis-cli on the host"
	else
		fail "redis-server inside answers PING" "$(tail -n 5 "$RD/redis.log" "$WORK/redis.out" 2>&1)"
		return
	fi

	# 1000 keys, values with spaces and a random part, one connection.
	"$PY" -c '
import os
for i in range(1, 1001):
    print("SET key:%d \"value %d %s\"" % (i, i, os.urandom(12).hex()))' >"$WORK/set.cmds"
	sed -n 's/^SET \(key:[0-9]*\) "\(.*\)"$/\2/p' "$WORK/set.cmds" >"$WORK/want.vals"
	sed -n 's/^SET \(key:[0-9]*\) .*/GET \1/p' "$WORK/set.cmds" >"$WORK/get.cmds"
	got=$(cli <"$WORK/set.cmds" 2>&1 | sort | uniq -c | sed 's/^ *//')
	check_eq "redis: 1000 SETs answer OK" "1000 OK" "$got"
	cli <"$WORK/get.cmds" >"$WORK/got.vals" 2>&1
	if cmp -s "$WORK/want.vals" "$WORK/got.vals"; then
		pass "redis: 1000 GETs return the values set"
	else
		fail "redis: 1000 GETs return the values set" \
			"$(diff "$WORK/want.vals" "$WORK/got.vals" | head -4 | tr '\n' '|')"
	fi
	check_eq "redis: DBSIZE is 1000" "1000" "$(cli dbsize 2>&1)"

	# BGSAVE forks a child that writes the dump while the parent serves.
	check_eq "redis: BGSAVE starts" "Background saving started" "$(cli bgsave 2>&1)"
	for _ in $(seq 100); do
		cli info persistence 2>/dev/null | grep -q '^rdb_bgsave_in_progress:0' && break
		sleep 0.1
	done
	st=$(cli info persistence 2>&1 | tr -d '\r' | grep -E '^rdb_(last_bgsave_status|bgsave_in_progress):' | tr '\n' ' ')
	check_eq "redis: the forked BGSAVE child finished with success" \
		"rdb_bgsave_in_progress:0 rdb_last_bgsave_status:ok " "$st"

	# An ungranted outbound connection: REPLICAOF a host port.
	LPORT=$(free_port)
	host_listener "$LPORT" "$WORK/listener.log"
	cli replicaof 127.0.0.1 "$LPORT" >/dev/null 2>&1
	sleep 1.5
	link=$(cli info replication 2>&1 | tr -d '\r' | grep '^master_link_status:')
	cli replicaof no one >/dev/null 2>&1
	check_eq "redis: REPLICAOF an ungranted host port gets no link" "master_link_status:down" "$link"
	if [ -s "$WORK/listener.log" ]; then
		fail "redis: the ungranted host port saw no connection" "$(cat "$WORK/listener.log")"
	else
		pass "redis: the ungranted host port saw no connection"
	fi
	kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null

	rm -f "$RD/dump.rdb"
	: >"$RD/redis.log" # its own lines from here on (it reopens the file per line)
	cli shutdown save >/dev/null 2>&1
	wait $SRV
	rc=$?
	log=$(cat "$RD/redis.log" 2>/dev/null)
	if [ $rc -eq 0 ] && [[ $log == *"DB saved on disk"* && $log == *"ready to exit, bye bye"* ]] &&
		! grep -qiE 'error|failed' "$RD/redis.log"; then
		pass "redis: SHUTDOWN SAVE saves and exits 0"
	else
		fail "redis: SHUTDOWN SAVE saves and exits 0" "status $rc: $(tail -3 "$RD/redis.log" | tr '\n' '|') $(head -c 300 "$WORK/redis.out")"
	fi

	# The dump written inside loads natively, with every key.
	NPORT=$(free_port)
	mkdir -p "$WORK/native"
	cp "$RD/dump.rdb" "$WORK/native/" 2>/dev/null
	redis-server --port "$NPORT" --bind 127.0.0.1 --daemonize no --dir "$WORK/native" --save '' \
		--logfile "$WORK/native/redis.log" &
	NAT=$!
	wait_for pong "$NPORT"
	timeout 30 redis-cli -p "$NPORT" <"$WORK/get.cmds" >"$WORK/native.vals" 2>&1
	if cmp -s "$WORK/want.vals" "$WORK/native.vals"; then
		pass "redis: the dump written inside loads natively with all 1000 values"
	else
		fail "redis: the dump written inside loads natively" \
			"$(diff "$WORK/want.vals" "$WORK/native.vals" | head -4 | tr '\n' '|')"
	fi
	timeout 10 redis-cli -p "$NPORT" shutdown nosave >/dev/null 2>&1
	wait $NAT 2>/dev/null

	# SIGTERM to moat reaches redis, which shuts down cleanly (status 0,
	# as natively).
	: >"$RD/redis.log"
	"$MOAT" run $SYS --rw "$RD:/data" --cwd /data \
		--net "tcp.server://0.0.0.0:6379=tcp.server://127.0.0.1:$RPORT" \
		-- /usr/bin/redis-server --port 6379 --daemonize no --dir /data \
		--save '' --logfile /data/redis.log >"$WORK/redis.out" 2>&1 &
	SRV=$!
	wait_for pong "$RPORT"
	kill -TERM $SRV
	wait $SRV
	rc=$?
	if [ $rc -eq 0 ] && grep -q 'Received SIGTERM' "$RD/redis.log" &&
		grep -q 'ready to exit, bye bye' "$RD/redis.log"; then
		pass "redis: SIGTERM through moat shuts it down with status 0"
	else
		fail "redis: SIGTERM through moat shuts it down" "status $rc: $(tail -3 "$RD/redis.log" | tr '\n' '|')"
	fi

	# A server never outlives moat: SIGKILL to moat (no chance to clean
	# up) takes the picoprocess with it, and the port is free again.
	"$MOAT" run $SYS --rw "$RD:/data" --cwd /data \
		--net "tcp.server://0.0.0.0:6379=tcp.server://127.0.0.1:$RPORT" \
		-- /usr/bin/redis-server --port 6379 --daemonize no --dir /data \
		--save '' --logfile /data/redis.log >"$WORK/redis.out" 2>&1 &
	SRV=$!
	wait_for pong "$RPORT"
	local pico
	pico=$(pgrep -P $SRV)
	kill -KILL $SRV
	wait $SRV 2>/dev/null
	sleep 0.5
	st=$(ps -o stat= -p "$pico" 2>/dev/null)
	if [ -n "$pico" ] && [[ -z $st || $st == Z* ]] && ! pong "$RPORT"; then
		pass "redis: SIGKILL to moat ends the picoprocess too"
	else
		fail "redis: SIGKILL to moat ends the picoprocess too" "pico '$pico' state '$st'"
		[ -n "$pico" ] && kill -KILL "$pico"
	fi

	# Without a grant it cannot listen: native redis's own message and
	# status for a port it may not use.
	out=$(timeout 20 "$MOAT" run $SYS --rw "$RD:/data" --cwd /data \
		-- /usr/bin/redis-server --port 6379 --daemonize no --save '' 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && [[ $out == *"Permission denied"* ]]; then
		pass "redis: without a grant it cannot listen (status 1, Permission denied)"
	else
		fail "redis: without a grant it cannot listen" "status $rc: $(echo "$out" | tail -3 | tr '\n' '|')"
	fi
}

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
	redis_tests
else
	echo "SKIP redis: redis-server or redis-cli missing"
fi

# ------------------------------------------------------------------ nginx
# Its own configuration: master and two workers, pid, logs and temp files
# in a writable mapping, sendfile on, one location proxying to a host port
# that is not granted.
nginx_conf() {
	cat <<CONF
user root;
worker_processes 2;
pid /run/nginx.pid;
error_log /run/error.log info;
daemon off;
events { worker_connections 64; }
http {
    access_log /run/access.log;
    sendfile on;
    client_body_temp_path /run/body;
    proxy_temp_path /run/proxy;
    fastcgi_temp_path /run/fastcgi;
    uwsgi_temp_path /run/uwsgi;
    scgi_temp_path /run/scgi;
    types { text/html html; application/octet-stream bin; }
    server {
        listen 8080;
        root /www;
        location /proxy/ { proxy_pass http://127.0.0.1:$1/; }
    }
}
CONF
}

nginx_tests() {
	local NG=$WORK/nginx
	mkdir -p "$NG/www" "$NG/run" "$NG/conf"
	head -c 3000000 /dev/urandom >"$NG/www/blob.bin"
	echo "index served by nginx inside" >"$NG/www/index.html"
	local LPORT HPORT
	LPORT=$(free_port)
	HPORT=$(free_port)
	nginx_conf "$LPORT" >"$NG/conf/nginx.conf"
	local NGX="$SYS --ro $NG/www:/www --ro $NG/conf:/conf --rw $NG/run:/run"
	local URL=http://127.0.0.1:$HPORT
	host_listener "$LPORT" "$WORK/listener.log"

	# Run 1: nginx is pid 1 of the picoprocess; SIGQUIT to moat is its
	# graceful stop.
	"$MOAT" run $NGX --net "tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:$HPORT" \
		-- /usr/sbin/nginx -c /conf/nginx.conf >"$WORK/nginx.out" 2>&1 &
	local SRV=$!
	if ! wait_for curl -sf --max-time 2 -o /dev/null "$URL/index.html"; then
		fail "nginx inside serves the host" "$(tail -n 5 "$NG/run/error.log" "$WORK/nginx.out" 2>&1)"
		kill -KILL $SRV
		return
	fi
	check_eq "nginx: curl on the host gets index.html" "index served by nginx inside" \
		"$(curl -s --max-time 10 "$URL/index.html")"
	curl -s --max-time 20 -o "$WORK/blob.got" "$URL/blob.bin"
	cmp -s "$NG/www/blob.bin" "$WORK/blob.got" &&
		pass "nginx: a 3 MB static file arrives byte for byte (sendfile)" ||
		fail "nginx: a 3 MB static file arrives byte for byte" "$(ls -l "$WORK/blob.got" 2>&1)"
	# Ten keep-alive clients at once, each asking again as soon as it has
	# its answer: every one is served throughout, none waits 2 s.  (With
	# one worker and no POLLRDHUP, nginx kept reading busy connections and
	# starved a newer one; tests/rdhup.py checks POLLRDHUP itself.)
	out=$("$PY" - "$HPORT" <<'PY'
import socket, sys, threading, time
port, n, counts, stalls = int(sys.argv[1]), 10, [0] * 10, []
req = b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n"
def client(i):
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(2)
    end = time.monotonic() + 3
    while time.monotonic() < end:
        s.send(req); got = b""
        try:
            while b"inside\n" not in got:
                d = s.recv(4096)
                if not d:  # nginx closes a connection after 1000 requests
                    if counts[i] < 1000:
                        stalls.append(i)
                    return
                got += d
        except socket.timeout:
            stalls.append(i); return
        counts[i] += 1
ts = [threading.Thread(target=client, args=(i,)) for i in range(n)]
[t.start() for t in ts]; [t.join() for t in ts]
print("all served" if not stalls and min(counts) >= 10 else "stalled %s, counts %s" % (stalls, counts))
PY
)
	check_eq "nginx: ten keep-alive clients at once are all served, none starved" "all served" "$out"
	workers=$(grep -c 'start worker process [0-9]' "$NG/run/error.log")
	check_eq "nginx: the master started two worker processes" 2 "$workers"
	code=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' "$URL/proxy/")
	check_eq "nginx: proxying to an ungranted host port gives 502" 502 "$code"
	sleep 0.2
	if [ -s "$WORK/listener.log" ]; then
		fail "nginx: the ungranted host port saw no connection" "$(cat "$WORK/listener.log")"
	else
		pass "nginx: the ungranted host port saw no connection"
	fi
	kill -QUIT $SRV
	wait $SRV
	local rc=$?
	exited=$(grep -c 'worker process [0-9]* exited with code 0' "$NG/run/error.log")
	if [ $rc -eq 0 ] && [ "$exited" -eq 2 ] && grep -q 'gracefully shutting down' "$NG/run/error.log" &&
		! grep -E '\[(emerg|crit|alert)\]' "$NG/run/error.log" | grep -qv 'sendmsg() failed (95:'; then
		# (the one alert allowed: passing channel descriptors between
		# workers with SCM_RIGHTS, which moat does not support yet)
		pass "nginx: SIGQUIT through moat: workers exit 0, the master exits 0"
	else
		fail "nginx: SIGQUIT through moat stops it cleanly" \
			"status $rc, $exited workers exited 0: $(grep -E 'emerg|crit|alert' "$NG/run/error.log" | head -3 | tr '\n' '|')"
	fi

	# Run 2: a shell inside starts nginx and stops it with `nginx -s quit`
	# (a signal by pid between processes of the picoprocess) once the host
	# says so.
	rm -f "$NG/run/"*.log "$NG/run/stop"
	"$MOAT" run $NGX --net "tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:$HPORT" \
		-- /bin/sh -c '/usr/sbin/nginx -c /conf/nginx.conf & pid=$!
			while [ ! -e /run/stop ]; do sleep 0.1; done
			/usr/sbin/nginx -c /conf/nginx.conf -s quit; wait $pid; echo "nginx exited $?"' \
		>"$WORK/nginx.out" 2>&1 &
	SRV=$!
	wait_for curl -sf --max-time 2 -o /dev/null "$URL/index.html"
	curl -s --max-time 20 -o "$WORK/blob.got" "$URL/blob.bin"
	cmp -s "$NG/www/blob.bin" "$WORK/blob.got" &&
		pass "nginx under sh: the static file arrives byte for byte" ||
		fail "nginx under sh: the static file arrives byte for byte" "$(ls -l "$WORK/blob.got" 2>&1)"
	touch "$NG/run/stop"
	wait $SRV
	rc=$?
	out=$(grep -v 'signal process started' "$WORK/nginx.out")
	if [ $rc -eq 0 ] && [ "$out" == "nginx exited 0" ] &&
		[ "$(grep -c 'exited with code 0' "$NG/run/error.log")" -eq 2 ]; then
		pass "nginx: 'nginx -s quit' inside stops master and workers with status 0"
	else
		fail "nginx: 'nginx -s quit' inside stops it" "status $rc: $out"
	fi
	kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null

	# Without a grant it cannot listen: nginx's own error and status 1.
	rm -f "$NG/run/"*.log
	out=$(timeout 20 "$MOAT" run $NGX -- /usr/sbin/nginx -c /conf/nginx.conf 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q '\[emerg\].*(13: Permission denied)' "$NG/run/error.log"; then
		pass "nginx: without a grant it cannot listen (status 1, Permission denied)"
	else
		fail "nginx: without a grant it cannot listen" "status $rc: $(tail -n 2 "$NG/run/error.log" | tr '\n' '|')"
	fi
}

if [ -x /usr/sbin/nginx ] && command -v curl >/dev/null; then
	nginx_tests
else
	echo "SKIP nginx: nginx (nginx-light) or curl missing"
fi

# A reply written in two parts (nginx's headers, then its body) must not
# wait for the client's delayed ACK: Nagle would hold the second part
# about 40 ms, 20 replies at least 0.8 s.  The app's own TCP_NODELAY cannot
# reach the host socket, so moat sets it on every TCP socket it makes.
cat > "$WORK/two_part.py" <<'PY'
import socket
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("0.0.0.0", 8080)); l.listen(1)
a, _ = l.accept()
while a.recv(100):
    a.send(b"head"); a.send(b"body\n")
PY
port=$(free_port)
"$MOAT" run $SYS --ro "$WORK/two_part.py" --net "tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:$port" \
	-- "$PY" "$WORK/two_part.py" &
SRV=$!
out=$("$PY" - "$port" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        c = socket.create_connection(("127.0.0.1", int(sys.argv[1]))); break
    except OSError:
        time.sleep(0.1)
t = time.monotonic()
for _ in range(20):
    c.send(b"q"); d = b""
    while not d.endswith(b"\n"):
        d += c.recv(100)
ms = (time.monotonic() - t) * 1000
print("fast" if ms < 400 else "held back: %.0f ms" % ms)
PY
)
check_eq "20 replies written in two parts are not held back by Nagle (TCP_NODELAY on the host socket)" "fast" "$out"
# The server may end first (the client closed) or on the signal (143): either is fine.
kill $SRV 2>/dev/null; wait $SRV 2>/dev/null || true
