#!/usr/bin/env bash
# Escape attempts from inside a picoprocess, checked from the host.
#
# build/tests/escape (tests/escape.c) makes each attempt two ways:
#   raw   a 'syscall' instruction in the app: the filter traps it and the
#         LibOS answers, so the program must see an error and exit 0
#         (except what the LibOS may do inside the sandbox: fork, and
#         kill(1)/kill(-1), which name the picoprocess itself);
#   gate  a call into the PAL's own gate at MOAT_GATE_ADDR: the filter's
#         allowlist decides, so the picoprocess must be killed (status 159,
#         "seccomp filter" on stderr) unless the call is allowlisted.
# Whatever the program sees, the host must see nothing: a canary file
# watched with inotify is never opened, a host process of the same host
# uid is neither killed nor traced, no mount appears, no shell runs, no TCP
# connection or UDP datagram arrives.  Positive controls show that the
# watchers do see these things when they happen.  As root, the whole matrix
# runs again as an unprivileged user (nobody, through setpriv).  The
# outcome table at the end is the one in docs/security.md.
. "$(dirname "$0")/lib.sh"

ESC=$BUILD/tests/escape
if [ ! -x "$ESC" ]; then
	fail "escape program" "$ESC is missing (make $BUILD/tests/escape)"
	exit 0
fi
PY=$(command -v python3 || true)
"${PY:-false}" -c '' 2>/dev/null || PY=/usr/bin/python3

CANARY=$WORK/canary SENTINEL=$WORK/sentinel EVENTS=$WORK/events
JAIL=$WORK/jail MNT=$WORK/mnt PWNED=$WORK/pwned
echo "canary secret" >"$CANARY"
: >"$SENTINEL"
: >"$EVENTS"
mkdir -p "$JAIL" "$MNT"
ln -s "$CANARY" "$JAIL/abs"   # absolute host path to the canary
ln -s ../canary "$JAIL/rel"   # relative path climbing out of the mapping
chmod 644 "$CANARY" "$SENTINEL"
chmod 755 "$JAIL" "$MNT"

# The watcher: inotify on the canary and the sentinel, and a TCP listener
# and a UDP socket on 127.0.0.1, logging one line per event to $EVENTS.
# Each time the sentinel is opened it also writes "ack CANARY-EVENTS
# TCP-ACCEPTS UDP-DATAGRAMS" to the FIFO (fd 9 here), the totals so far.
cat >"$WORK/watch.py" <<'EOF'
import ctypes, os, select, socket, struct, sys
log = open(sys.argv[1], "a", buffering=1)
ack = os.open(sys.argv[2], os.O_WRONLY)
libc = ctypes.CDLL(None, use_errno=True)
ino = libc.inotify_init1(os.O_CLOEXEC)
names = {}
for path in sys.argv[3:]:
    wd = libc.inotify_add_watch(ino, path.encode(), 0xfff)  # IN_ALL_EVENTS
    if wd < 0:
        sys.exit("inotify_add_watch %s: %s" % (path, os.strerror(ctypes.get_errno())))
    names[wd] = os.path.basename(path)
bits = ["ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE", "OPEN",
        "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE", "DELETE_SELF", "MOVE_SELF"]
lsn = socket.socket()
lsn.bind(("127.0.0.1", 0))
lsn.listen(8)
udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
udp.bind(("127.0.0.1", 0))
udp.setblocking(False)
canary_events = tcp_accepts = udp_datagrams = 0
def drain_udp():
    global udp_datagrams
    while True:
        try:
            data, peer = udp.recvfrom(512)
        except BlockingIOError:
            return
        log.write("udp datagram %r from %s\n" % (data, peer))
        udp_datagrams += 1
log.write("ready port %d udp %d\n" % (lsn.getsockname()[1], udp.getsockname()[1]))
while True:
    ready, _, _ = select.select([ino, lsn, udp], [], [])
    drain_udp()
    if lsn in ready:
        conn, peer = lsn.accept()
        log.write("tcp accept %s\n" % (peer,))
        tcp_accepts += 1
        conn.close()
    if ino in ready:
        buf = os.read(ino, 65536)
        i = 0
        while i < len(buf):
            wd, mask, _, ln = struct.unpack_from("iIII", buf, i)
            i += 16 + ln
            what = ",".join(b for n, b in enumerate(bits) if mask & (1 << n))
            log.write("%s %s\n" % (names.get(wd, "?"), what or hex(mask)))
            if names.get(wd) == "canary":
                canary_events += 1
            elif mask & 0x20:
                drain_udp()
                os.write(ack, b"ack %d %d %d\n" % (canary_events, tcp_accepts, udp_datagrams))
EOF
mkfifo "$WORK/ack"
exec 9<>"$WORK/ack"
"$PY" "$WORK/watch.py" "$EVENTS" "$WORK/ack" "$CANARY" "$SENTINEL" &
WATCHER=$!
for _ in $(seq 750); do grep -q '^ready' "$EVENTS" && break; sleep 0.02; done
read -r _ _ PORT _ UDP_PORT < <(grep '^ready' "$EVENTS")
SLEEPER=
cleanup() {
	kill "$WATCHER" ${SLEEPER:+"$SLEEPER"} 2>/dev/null
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT
if [ -z "${PORT:-}" ] || [ -z "${UDP_PORT:-}" ]; then
	fail "watcher" "the inotify/TCP watcher did not start ($PY)"
	exit 0
fi

# settle: make sure every event caused so far is in $EVENTS, by opening
# the sentinel and waiting until the watcher has logged that (one inotify
# queue, in order).  Sets CANARY_N, TCP_N and UDP_N, the watcher's totals.
CANARY_N=0 TCP_N=0 UDP_N=0
WATCHER_OK=1
settle() {
	: <"$SENTINEL"
	local word
	read -r -t 10 -u 9 word CANARY_N TCP_N UDP_N || WATCHER_OK=
}
# status_field PID NAME: a field of /proc/PID/status, without forking.
status_field() {
	local k v rest
	while read -r k v rest; do
		[ "$k" = "$2:" ] && { echo "$v"; return; }
	done <"/proc/$1/status"
}

# Positive control 1: the watcher sees a host open of the canary.
settle
before=$CANARY_N
cat "$CANARY" >/dev/null
settle
if [ "$CANARY_N" -gt "$before" ] && grep -q '^canary OPEN' "$EVENTS"; then
	pass "control: the watcher sees the host open the canary"
else
	fail "control: the watcher sees the host open the canary" "no event: $(tr '\n' '|' <"$EVENTS")"
fi

# run_pico USER ARGS...: run moat (as USER unless empty) with $OUT/$ERR.
# Stdin is /dev/null, or with UDP_STDIN set a host UDP socket (connected
# to 127.0.0.1:9, where nothing listens), as a service's stdin can be.
OUT=$WORK/out ERR=$WORK/err
run_pico() {
	local who=$1; shift
	local as=()
	[ -n "$who" ] && as=(setpriv --reuid="$who" --regid="$who" --clear-groups --inh-caps=-all)
	if [ -n "${UDP_STDIN:-}" ]; then
		"${as[@]}" "$MOAT" run "$@" <>/dev/udp/127.0.0.1/9 >"$OUT" 2>"$ERR"
	else
		"${as[@]}" "$MOAT" run "$@" </dev/null >"$OUT" 2>"$ERR"
	fi
}

# Positive control 2: granted, the same raw openat reaches the file through
# the monitor, and the watcher sees the monitor open it.
before=$(grep -c '^canary OPEN' "$EVENTS")
run_pico "" --ro "$CANARY:/granted" -- "$ESC" raw openat /granted
rc=$?
settle
if [ $rc -eq 0 ] && grep -q '^raw openat: read .*canary secret' "$OUT" &&
   [ "$(grep -c '^canary OPEN' "$EVENTS")" -gt "$before" ]; then
	pass "control: a granted canary is opened and seen by the watcher"
else
	fail "control: a granted canary is opened and seen by the watcher" \
		"status $rc, out [$(tr '\n' '|' <"$OUT")], events [$(tr '\n' '|' <"$EVENTS")]"
fi

# Positive control 3: TracerPid, read below, does show a tracer.
if command -v strace >/dev/null; then
	sleep 60 &
	victim=$!
	strace -p $victim -o /dev/null 2>/dev/null &
	tracer=$!
	for _ in $(seq 200); do
		[ "$(status_field $victim TracerPid)" != 0 ] && break
		sleep 0.01
	done
	check_eq "control: TracerPid shows a tracer" "$tracer" "$(status_field $victim TracerPid)"
	kill $tracer $victim 2>/dev/null
	wait $tracer $victim 2>/dev/null
else
	echo "(no strace: the TracerPid control is skipped)"
fi

host_mounts() { grep -cF -- "$WORK" /proc/self/mountinfo; }

# attempt USER LABEL MODE ATTEMPT [ARG] -- grants come from $GRANTS.
# Runs the attempt, then checks inside (status, output) and outside.
attempt() {
	local who=$1 label=$2 mode=$3 what=$4; shift 4
	local shown=${1:-}
	case $what in
	ptrace | kill) shown="SLEEPER" ;;
	socket) shown="127.0.0.1:PORT" ;;
	sendto) shown="(host UDP stdin moved to fd 3)" ;;
	execve) shown="/bin/sh" ;;
	*) shown=${shown//$WORK/\$WORK} ;;
	esac
	shown=${SHOW:-"$what${shown:+ $shown}"}
	local name="$label $mode $shown"
	local c0 t0 u0 m0 rc line problems=()
	c0=$CANARY_N t0=$TCP_N u0=$UDP_N m0=$(host_mounts)
	run_pico "$who" ${GRANTS:-} -- "$ESC" "$mode" "$what" "$@"
	rc=$?
	settle
	local l errtxt=
	line=
	while IFS= read -r l; do
		case $l in "$mode $what: "[-0-9]*) line=${l#"$mode $what: "}; break ;; esac
	done <"$OUT"
	IFS= read -r -d '' errtxt <"$ERR"

	# Outside: nothing happened on the host.
	[ -n "$WATCHER_OK" ] || problems+=("the watcher stopped answering: nothing is known")
	[ "$CANARY_N" -eq "$c0" ] ||
		problems+=("the canary was touched: $(grep '^canary' "$EVENTS" | tail -3 | tr '\n' ' ')")
	[ "$TCP_N" -eq "$t0" ] || problems+=("a TCP connection reached the host")
	[ "$UDP_N" -eq "$u0" ] ||
		problems+=("a UDP datagram reached a host address other than the console's peer")
	[ "$(host_mounts)" -eq "$m0" ] || problems+=("a mount appeared on the host")
	[ -e "$PWNED" ] && { problems+=("a shell ran on the host"); rm -f "$PWNED"; }
	if ! kill -0 "$SLEEPER" 2>/dev/null; then
		problems+=("the host sleeper $SLEEPER was killed")
		start_sleeper "$who"
	else
		local tracer state
		tracer=$(status_field "$SLEEPER" TracerPid)
		state=$(status_field "$SLEEPER" State)
		[ "$tracer" = 0 ] || problems+=("the host sleeper is traced by $tracer")
		case $state in t|T) problems+=("the host sleeper is stopped ($state)") ;; esac
	fi
	[ -d /proc/1 ] || problems+=("host pid 1 is gone")

	# Inside: what the program saw.  'killed': the filter ended it (159
	# and its message, no result printed); 'self': it died of its own
	# SIGKILL (137); 'error' / 'success': the call returned.
	local outcome got
	if [ $rc -eq 159 ] && [[ $errtxt == *"seccomp filter"* ]] && [ -z "$line" ]; then
		got=killed outcome="killed by the filter (159)"
	elif [ $rc -eq 137 ] && [ -z "$line" ]; then
		got=self outcome="killed itself (SIGKILL, 137)"
	elif [ $rc -eq 0 ] && grep -q 'child was killed by signal 31' "$OUT"; then
		got=killed outcome="child killed by the filter (SIGSYS)"
	elif [ $rc -eq 0 ] && [ -n "$line" ]; then
		case $line in -*) got=error ;; *) got=success ;; esac
		outcome=$line
		[ "$mode" = gate ] && outcome="allowlisted; returned $line"
	else
		got=other outcome="status $rc"
		local outtxt=
		IFS= read -r -d '' outtxt <"$OUT"
		[[ $outtxt == *shell-ran-inside* ]] &&
			outcome="the granted sh ran inside; status $rc"
	fi
	# What each attempt may see.  Raw calls must fail, except those the
	# LibOS may carry out inside the picoprocess: fork (a child in the
	# same sandbox), and kill(1) / kill(-1), which name the picoprocess
	# itself in its pid namespace.  Gate calls must be killed by the
	# filter, except the allowlisted channel calls and, if the filter
	# allows kill for the picoprocess's own processes, kill -- which the
	# pid namespace confines (the host checks above decide).
	local accept
	case $mode/$what in
	raw/fork) accept="error success" ;;
	raw/kill1 | raw/killall | raw/killgroup) accept="error success self" ;;
	raw/execve) # with a shell granted, the LibOS may run it, inside
		accept="error"; [ -n "${GRANTS:-}" ] && accept="error other" ;;
	raw/*) accept="error" ;;
	gate/kill) accept="killed error" ;;
	gate/fork) # the PAL's own fork flags may be allowlisted
		accept="killed"; [ "${1:-}" = pal ] && accept="killed success" ;;
	gate/kill1 | gate/killall | gate/killgroup) accept="killed error success" ;;
	gate/channel | gate/sendto) accept="killed error" ;;
	gate/*) accept="killed" ;;
	esac
	[[ " $accept " == *" $got "* ]] ||
		problems+=("expected: ${accept// / or }; got: $outcome${errtxt:+; stderr: ${errtxt:0:200}}")
	OUTCOMES+=("$label|$mode|$shown|$outcome")
	if [ ${#problems[@]} -eq 0 ]; then
		pass "$name -> $outcome"
	else
		local why=$problems p
		for p in "${problems[@]:1}"; do why+="; $p"; done
		fail "$name -> $outcome" "$why"
	fi
}

start_sleeper() {
	local who=$1
	if [ -n "$who" ]; then
		setpriv --reuid="$who" --regid="$who" --clear-groups sleep 60 &
	else
		sleep 60 &
	fi
	SLEEPER=$!
}

matrix() {
	local who=$1 label=$2
	# The sleeper has the host uid the picoprocess runs as (nobody when
	# moat runs as root), so only the sandbox stands between them.
	local target=$who
	[ -z "$who" ] && [ "$(id -u)" = 0 ] && target=65534
	[ -n "$SLEEPER" ] && { kill "$SLEEPER"; wait "$SLEEPER" 2>/dev/null; }
	start_sleeper "$target"
	local mode
	for mode in raw gate; do
		GRANTS="" attempt "$who" "$label" $mode openat "$CANARY"
		GRANTS="" attempt "$who" "$label" $mode socket "$PORT"
		GRANTS="" attempt "$who" "$label" $mode ptrace "$SLEEPER"
		GRANTS="" attempt "$who" "$label" $mode kill "$SLEEPER"
		GRANTS="" attempt "$who" "$label" $mode kill1
		GRANTS="" attempt "$who" "$label" $mode killall
		GRANTS="" attempt "$who" "$label" $mode killgroup
		GRANTS="" attempt "$who" "$label" $mode mount "$MNT"
		GRANTS="" attempt "$who" "$label" $mode unshare
		GRANTS="" attempt "$who" "$label" $mode execve "touch $PWNED"
		GRANTS="" attempt "$who" "$label" $mode fork
		GRANTS="" attempt "$who" "$label" $mode fork pal
		GRANTS="" attempt "$who" "$label" $mode channel "$CANARY"
		GRANTS="" UDP_STDIN=1 attempt "$who" "$label" $mode sendto 0 "$UDP_PORT"
	done
	# Symbolic links in a granted directory are resolved as virtual paths,
	# so they cannot lead out of the mapping.
	# ($JAIL is granted as /jail; abs -> $CANARY, rel -> ../canary.)
	GRANTS="--ro $JAIL:/jail" SHOW="openat /jail/abs (link to canary)" \
		attempt "$who" "$label" raw openat /jail/abs
	GRANTS="--ro $JAIL:/jail" SHOW="openat /jail/rel (link ../canary)" \
		attempt "$who" "$label" raw openat /jail/rel
	GRANTS="--ro $JAIL:/jail" SHOW="channel /jail/rel (link ../canary)" \
		attempt "$who" "$label" gate channel /jail/rel
	# With a shell granted, execve can only run it inside the picoprocess,
	# where the host path it names does not exist.
	[ -x /bin/busybox ] &&
		GRANTS="--ro /bin/busybox:/bin/sh" SHOW="execve /bin/sh (granted)" \
			attempt "$who" "$label" raw execve \
			"echo shell-ran-inside; touch $PWNED"
	# Allowlisted and with a host effect: threads.  They must stay inside
	# the picoprocess and end with it.
	GRANTS="" threads_attempt "$who" "$label"
}

# child_of PID: the first child of PID, if any.
child_of() {
	[ -n "$1" ] && awk '{ print $1 }' "/proc/$1/task/$1/children" 2>/dev/null
}

threads_attempt() {
	local who=$1 label=$2 n=50 pid= seen=0
	settle
	(run_pico "$who" -- "$ESC" gate threads $n) &
	local bg=$!
	for _ in $(seq 200); do
		pid=$(child_of "$(child_of $bg)")
		if [ -n "$pid" ]; then
			seen=$(status_field "$pid" Threads 2>/dev/null)
			[ "${seen:-0}" -gt $n ] && break
		fi
		sleep 0.01
	done
	# While it runs, the layers are visible from the host.
	local layers= ns shared=
	if [ -n "$pid" ]; then
		layers="uid $(status_field "$pid" Uid) no_new_privs $(status_field "$pid" NoNewPrivs)"
		layers+=" seccomp $(status_field "$pid" Seccomp) CapEff $(status_field "$pid" CapEff)"
		for ns in user pid net mnt ipc uts cgroup; do
			[ "$(readlink "/proc/$pid/ns/$ns")" = "$(readlink /proc/self/ns/$ns)" ] &&
				shared+=" $ns"
		done
		layers+=" namespaces shared with the host:${shared:- none}"
	fi
	wait $bg
	local rc=$? name="$label gate threads $n" errtxt=
	IFS= read -r -d '' errtxt <"$ERR"
	local outcome="allowlisted; host saw ${seen:-0} threads in the picoprocess"
	OUTCOMES+=("$label|gate|threads $n|$outcome, none left after exit")
	if [ $rc -eq 0 ] && [ "${seen:-0}" -gt $n ] && grep -q "^gate threads: $n " "$OUT" &&
	   [ -n "$pid" ] && ! [ -d "/proc/$pid" ]; then
		pass "$name -> $outcome, none left after exit"
	else
		fail "$name -> $outcome" "status $rc, pid ${pid:-?} $( [ -d "/proc/${pid:-x}" ] && echo still there), out [$(tr '\n' '|' <"$OUT")] err [${errtxt:0:200}]"
	fi
	local uid
	uid=$(id -u)
	{ [ -n "$who" ] || [ "$uid" = 0 ]; } && uid=65534
	check_eq "$label layers seen from the host (/proc/PID/status, /proc/PID/ns)" \
		"uid $uid no_new_privs 1 seccomp 2 CapEff 0000000000000000 namespaces shared with the host: none" \
		"$layers"
}

OUTCOMES=()
matrix "" "$(id -un)"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	matrix 65534 nobody
fi

# The filter must also admit what the kernel itself issues at the gate:
# a sleep interrupted by SIGSTOP is resumed after SIGCONT with
# restart_syscall, at the instruction pointer of the interrupted call.
# (Ctrl-Z and fg in a shell do the same.)
if [ -x /bin/busybox ]; then
	"$MOAT" run -- /bin/busybox sleep 1 </dev/null >"$OUT" 2>"$ERR" &
	bg=$!
	pid=
	for _ in $(seq 200); do
		pid=$(child_of $bg)
		[ -n "$pid" ] && [ "$(status_field "$pid" Seccomp)" = 2 ] && break
		sleep 0.01
	done
	sleep 0.3
	kill -STOP "$pid" 2>/dev/null
	sleep 0.1
	kill -CONT "$pid" 2>/dev/null
	wait $bg
	rc=$?
	IFS= read -r -d '' errtxt <"$ERR"
	errtxt=${errtxt%$'\n'}
	check_eq "filter: a sleeping picoprocess survives SIGSTOP and SIGCONT (restart_syscall)" \
		"0" "$rc${errtxt:+: ${errtxt:0:200}}"
fi

# The outcome table (docs/security.md reproduces it).
echo
printf '%-35s | %-6s | %-30s | %s\n' attempt user raw gate
echo "------------------------------------|--------|--------------------------------|-----------------------------"
declare -A cell
order=()
for o in "${OUTCOMES[@]}"; do
	IFS='|' read -r label mode what outcome <<<"$o"
	key="$what|$label"
	[ -n "${cell[$key|raw]+x}${cell[$key|gate]+x}" ] || order+=("$key")
	cell[$key|$mode]=$outcome
done
for key in "${order[@]}"; do
	IFS='|' read -r what label <<<"$key"
	printf '%-35s | %-6s | %-30s | %s\n' "$what" "$label" "${cell[$key|raw]:--}" "${cell[$key|gate]:--}"
done
