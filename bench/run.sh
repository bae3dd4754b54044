#!/usr/bin/env bash
# bench/run.sh -- moat's benchmarks, measured in one run on this machine.
#
#   bench/run.sh            full run (~11 min, after waiting up to 2 min for
#                           idle CPUs): writes docs/benchmarks.md
#   bench/run.sh --smoke    1-3 runs of everything (~1 min): proves the harness
#                           works; writes build/bench/benchmarks-smoke.md and
#                           never touches docs/benchmarks.md
#   --out FILE              write the report to FILE instead
#
# `make bench` / `make bench-smoke` install hyperfine, bubblewrap, runsc,
# redis, nginx-light and wrk (BENCH_PKGS in the Makefile) and build moat
# first.  What is measured:
#
#   1. start-to-exit of a static hello (`busybox true`) and a dynamic one
#      (Debian's /bin/true: ld.so + libc) natively, under bubblewrap (with
#      --unshare-all, the isolation closest to moat's, and minimal), under
#      `moat run`, and under gVisor (`runsc --rootless --network=none do`)
#      when runsc works here (a full run as root apt-installs runsc if it
#      is missing; MOAT_BENCH_NO_INSTALL=1 stops that) -- hyperfine;
#   2. per-operation costs (getpid, open+close, stat, read/write 4 KiB and
#      1 MiB, 4 KiB and 1 MiB through a pipe from another process) from
#      bench/syscall_bench.c, natively and inside moat; and, taken apart in
#      a plain process by bench/trap_bench.c, what a seccomp-trapped call
#      costs against a user-space stub (for the call-site rewriting note);
#   2b. what an extension layer adds to a downcall: bench/ext_bench.c (the
#      passthrough layer over stub calls, in a plain process) and
#      syscall_bench inside `moat run --ext passthrough`;
#   3. memory: summed Pss of each sandbox's processes while N = 1, 10 and
#      100 copies (1 and 2 in smoke runs) idle in `busybox sh` reading stdin
#      (bench/pss.py);
#   4. process and thread creation from bench/spawn_bench.c: fork + exec of
#      /bin/true (dynamic) + waitpid, posix_spawn + waitpid, fork + waitpid,
#      pthread_create + pthread_join, natively and inside moat (granted
#      /usr /lib /lib64 /bin read-only);
#   5. TCP over loopback from bench/net_bench.c: 1-byte round trips, bulk
#      upload and download, connect+ping+close, with both ends native, with
#      the server inside moat (a tcp.server grant to a free host port) and
#      with the client inside moat (a tcp.client grant);
#   5b. servers: Debian's redis-server (redis-benchmark SET and GET, -c 1
#      and -c 50 -P 16) and nginx (wrk on a small page and a 1 MiB file,
#      one connection and ten), natively, under bwrap (--unshare-all
#      --share-net: bwrap reaches the host's network only by sharing it)
#      and inside moat on a granted port; each server is checked to answer
#      exactly, before and after the load, and to stop with status 0;
#   6. python3 startup (`python3 -c pass`), a python3 workload
#      (bench/py_work.py: json, re, hashlib) and the sqlite3 CLI (10k inserts
#      in a transaction into a file database, then two queries), natively,
#      under bwrap, moat and runsc -- hyperfine;
#   7. density: idle sandboxes (bench/echo_idle) started until the first
#      failure or 1000 (10 in smoke runs), the start rate, whether each
#      still answers, and a clean teardown (bench/density.py), natively,
#      under bwrap and under moat.
#  10. checkpoint and restore (bench/ckpt_criu.sh): CRIU's dump, restore
#      and image size for a 10 and a 256 MiB heap, an idle busybox sh, an
#      idle python3, python3 with 10 and 256 MiB, python3 after its
#      imports and redis-server with 100k keys (CRIU=PATH, a CRIU v4.2
#      built from source; left out, said in the report, when there is
#      none), moat's checkpoint, resume (to first instruction and to first
#      answer) and snapshot size, and cold starts to the first answer
#      natively and under moat; and live migration (bench/migrate.sh):
#      `moat migrate` of 256 MiB dirtied at 10 MB/s over a unix socket,
#      total time, downtime, rounds and bytes.
#
# The moat and moat-pico binaries are copied at the start and the copies
# measured, so that a rebuild in the tree during the run changes nothing.
#
# MOAT=PATH benchmarks another build of moat (its moat-pico beside it, or
# MOAT_PICO); MOAT_BENCH_REV=TEXT then names that build in the report, which
# otherwise gives this work tree's git revision.
#
# Raw results (hyperfine JSON, *_bench output, Pss JSON) stay in
# build/bench/results-{full,smoke}/; bench/report.py turns them into the
# Markdown report.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MOAT=${MOAT:-$BUILD/moat}
export MOAT_PICO=${MOAT_PICO:-$(dirname "$MOAT")/moat-pico}
BUSYBOX=${BUSYBOX:-/bin/busybox}

mode=full
out=
while [ $# -gt 0 ]; do
	case $1 in
	--smoke) mode=smoke ;;
	--out) out=$2; shift ;;
	-h|--help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench/run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$out" ]; then
	if [ $mode = full ]; then out=$ROOT/docs/benchmarks.md
	else out=$BUILD/bench/benchmarks-smoke.md; fi
fi

# Start-up runs are split into ROUNDS rounds that go through every sandbox
# in turn, and syscall_bench alternates native and moat ROUNDS times, so
# that load from elsewhere on the machine falls on all of them alike.
if [ $mode = full ]; then
	ROUNDS=4 RUNS=50 WARMUP=3    # 200 runs of each command
else
	ROUNDS=1 RUNS=3 WARMUP=1
fi

# Absolute paths: the sandboxes run from a scratch directory.
abs() { case $1 in /*) printf '%s' "$1" ;; *) printf '%s/%s' "$PWD" "$1" ;; esac; }
MOAT=$(abs "$MOAT") MOAT_PICO=$(abs "$MOAT_PICO") BUSYBOX=$(abs "$BUSYBOX") out=$(abs "$out")

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'bench/run.sh: %s\n' "$*" >&2; exit 1; }

for tool in hyperfine bwrap python3 gcc curl redis-server redis-cli redis-benchmark wrk; do
	command -v $tool >/dev/null || die "$tool not found (run 'make bench-deps')"
done
[ -x /usr/sbin/nginx ] || die "/usr/sbin/nginx not found (run 'make bench-deps')"
[ -x "$MOAT" ] && [ -f "$MOAT_PICO" ] || die "no $MOAT or $MOAT_PICO: run 'make all' first"
"$BUSYBOX" true 2>/dev/null || die "$BUSYBOX does not run (install busybox-static)"

RES=$BUILD/bench/results-$mode
rm -rf "$RES"
mkdir -p "$RES" "$(dirname "$out")"
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/moat-bench.XXXXXX")
chmod 755 "$SCRATCH"
# Background servers (section 5) are stopped on any exit.
BG_PIDS=()
cleanup() {
	local p
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	rm -rf "$SCRATCH"
}
trap cleanup EXIT

# Programs run under moat with `timeout`: a hang is reported, not waited out.
if [ $mode = full ]; then TMO=300; else TMO=60; fi
# Every sandbox starts from the same neutral directory.
cd "$SCRATCH"

# A full run first waits (up to 2 minutes) for the CPUs to be quiet, and
# the report records how busy they were: other work on a small machine
# shows up in every number.
if [ $mode = full ]; then
	python3 "$ROOT/bench/report.py" wait-idle --max-seconds 120 --busy 15 >&2 || true
fi
# Measure copies of moat and moat-pico: others may rebuild the tree while
# this runs, and a half-written binary must not end up in the numbers.
MOAT_ORIG=$MOAT
mkdir -p "$BUILD/bench/bin-$mode"
cp "$MOAT" "$BUILD/bench/bin-$mode/moat.tmp" && mv -f "$BUILD/bench/bin-$mode/moat.tmp" "$BUILD/bench/bin-$mode/moat"
cp "$MOAT_PICO" "$BUILD/bench/bin-$mode/moat-pico.tmp" && mv -f "$BUILD/bench/bin-$mode/moat-pico.tmp" "$BUILD/bench/bin-$mode/moat-pico"
MOAT=$BUILD/bench/bin-$mode/moat
export MOAT_PICO=$BUILD/bench/bin-$mode/moat-pico

t_start=$(date +%s)
python3 "$ROOT/bench/report.py" meta "$RES/meta.json" --mode $mode \
	--root "$ROOT" --moat "$MOAT_ORIG" --busybox "$BUSYBOX"

# --- gVisor: use it if it runs here; never pretend it did. ---
RUNSC_CMD=(runsc --rootless --network=none do)
runsc_status=
if ! command -v runsc >/dev/null; then
	if [ $mode = full ] && [ "$(id -u)" = 0 ] && [ -z "${MOAT_BENCH_NO_INSTALL:-}" ] &&
	   command -v apt-get >/dev/null; then
		say "runsc not installed: trying 'apt-get install runsc' (MOAT_BENCH_NO_INSTALL=1 skips)"
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq runsc >"$RES/runsc-install.log" 2>&1 ||
			runsc_status="not installed: 'apt-get install runsc' failed (see $RES/runsc-install.log)"
	fi
	if ! command -v runsc >/dev/null && [ -z "$runsc_status" ]; then
		cand=$(apt-cache policy runsc 2>/dev/null | awk '/Candidate:/ { print $2 }')
		if [ -n "$cand" ] && [ "$cand" != "(none)" ]; then
			runsc_status="not installed (Debian offers runsc $cand: apt-get install runsc)"
		else
			runsc_status="not installed and not offered by apt here"
		fi
	fi
fi
if [ -z "$runsc_status" ]; then
	if "${RUNSC_CMD[@]}" "$BUSYBOX" true >"$RES/runsc-probe.log" 2>&1; then
		runsc_status=ok
	else
		runsc_status="installed ($(runsc --version 2>/dev/null | head -1)) but '${RUNSC_CMD[*]} busybox true' fails here: $(tail -1 "$RES/runsc-probe.log")"
	fi
fi
printf '%s\n' "$runsc_status" >"$RES/runsc-status.txt"
say "gVisor: $runsc_status"

# --- 1. start-to-exit ---
# hyperfine -N runs each command without a shell, so nothing is
# subtracted or added: one fork+exec of the command, to its exit.
declare -a S_NAMES=() S_CMDS=()
starter() { # NAME CMD...
	local name=$1; shift
	local cmd
	cmd=$(printf '%q ' "$@")
	"$@" >/dev/null 2>"$RES/start-$name.err" ||
		die "$name: '$cmd' fails: $(head -c 400 "$RES/start-$name.err")"
	S_NAMES+=("$name") S_CMDS+=("${cmd% }")
}
# The static hello: busybox-static's `true`, no loader, no libraries.
starter native "$BUSYBOX" true
starter bwrap bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc "$BUSYBOX" true
starter bwrap-min bwrap --ro-bind / / "$BUSYBOX" true
starter moat "$MOAT" run -- "$BUSYBOX" true
if [ "$runsc_status" = ok ]; then
	starter runsc "${RUNSC_CMD[@]}" "$BUSYBOX" true
fi
# The dynamic hello: Debian's /bin/true (coreutils, a PIE that ld.so
# loads with libc).  moat gets the least that runs it: the loader and libc
# directories read-only (moat maps the program itself at its own path).
DYN_TRUE=/bin/true
starter dyn-native "$DYN_TRUE"
starter dyn-bwrap bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc "$DYN_TRUE"
starter dyn-bwrap-min bwrap --ro-bind / / "$DYN_TRUE"
starter dyn-moat "$MOAT" run --ro /lib --ro /lib64 -- "$DYN_TRUE"
if [ "$runsc_status" = ok ]; then
	starter dyn-runsc "${RUNSC_CMD[@]}" "$DYN_TRUE"
fi
for ((round = 1; round <= ROUNDS; round++)); do
	for i in "${!S_NAMES[@]}"; do
		name=${S_NAMES[$i]}
		say "start: $name, round $round/$ROUNDS, $RUNS runs: ${S_CMDS[$i]}"
		hyperfine -N --style basic --warmup "$WARMUP" --runs "$RUNS" -n "$name" \
			--export-json "$RES/start-$name-r$round.json" "${S_CMDS[$i]}" \
			>"$RES/start-$name-r$round.log" 2>&1 ||
			die "hyperfine $name failed: $(tail -5 "$RES/start-$name-r$round.log")"
		grep -E 'Time' "$RES/start-$name-r$round.log" | sed 's/^/   /' >&2 || true
	done
done

# --- 2. per-operation costs ---
SB=$BUILD/bench/syscall_bench
say "building $SB"
gcc -static -O2 -Wall -Wextra -o "$SB" "$ROOT/bench/syscall_bench.c"
smoke_flag=()
[ $mode = smoke ] && smoke_flag=(--smoke)
mkdir -p "$SCRATCH/native" "$SCRATCH/moat"
chmod 755 "$SCRATCH/native" "$SCRATCH/moat"
for ((round = 1; round <= ROUNDS; round++)); do
	say "syscall_bench, round $round/$ROUNDS: native"
	timeout $TMO "$SB" "$SCRATCH/native" "${smoke_flag[@]}" >"$RES/ops-native-r$round.txt" ||
		die "syscall_bench failed natively"
	sed 's/^/   /' "$RES/ops-native-r$round.txt" >&2
	say "syscall_bench, round $round/$ROUNDS: moat run --rw $SCRATCH/moat"
	timeout $TMO "$MOAT" run --rw "$SCRATCH/moat" -- "$SB" "$SCRATCH/moat" "${smoke_flag[@]}" \
		>"$RES/ops-moat-r$round.txt" 2>"$RES/ops-moat-r$round.err" ||
		die "syscall_bench failed in moat: $(head -c 600 "$RES/ops-moat-r$round.err")"
	sed 's/^/   /' "$RES/ops-moat-r$round.txt" >&2
done

# What a trapped call costs, taken apart, in a plain host process (for
# the design note on rewriting call sites).
TB=$BUILD/bench/trap_bench
say "building $TB"
gcc -static -O2 -Wall -Wextra -o "$TB" "$ROOT/bench/trap_bench.c"
for ((round = 1; round <= ROUNDS; round++)); do
	say "trap_bench, round $round/$ROUNDS: native (its own seccomp filter)"
	timeout $TMO "$TB" "${smoke_flag[@]}" >"$RES/trap-native-r$round.txt" ||
		die "trap_bench failed"
	sed 's/^/   /' "$RES/trap-native-r$round.txt" >&2
done

# What one extension layer adds to a downcall (issue 13): ext_bench in a
# plain process, and syscall_bench inside moat with --ext passthrough.
EB=$BUILD/bench/ext_bench
say "building $EB"
gcc -O2 -Wall -Wextra -I"$ROOT/include" -o "$EB" "$ROOT/bench/ext_bench.c" \
	"$ROOT/extensions/passthrough/passthrough.c"
for ((round = 1; round <= ROUNDS; round++)); do
	say "ext_bench, round $round/$ROUNDS"
	timeout $TMO "$EB" "${smoke_flag[@]}" >"$RES/ext-native-r$round.txt" || die "ext_bench failed"
	sed 's/^/   /' "$RES/ext-native-r$round.txt" >&2
	say "syscall_bench, round $round/$ROUNDS: moat run --ext passthrough"
	timeout $TMO "$MOAT" run --ext passthrough --rw "$SCRATCH/moat" -- "$SB" "$SCRATCH/moat" \
		"${smoke_flag[@]}" >"$RES/ops-moatpt-r$round.txt" 2>"$RES/ops-moatpt-r$round.err" ||
		die "syscall_bench failed in moat --ext passthrough: $(head -c 600 "$RES/ops-moatpt-r$round.err")"
	sed 's/^/   /' "$RES/ops-moatpt-r$round.txt" >&2
done

# --- 4. process and thread creation ---
SPB=$BUILD/bench/spawn_bench
say "building $SPB"
gcc -static -O2 -Wall -Wextra -pthread -o "$SPB" "$ROOT/bench/spawn_bench.c"
# /bin/true is dynamic: grant what its loader and libc need.
SYS_RO=()
for d in /usr /lib /lib64 /bin; do
	[ -e "$d" ] && SYS_RO+=(--ro "$d")
done
for ((round = 1; round <= ROUNDS; round++)); do
	say "spawn_bench, round $round/$ROUNDS: native"
	timeout $TMO "$SPB" "${smoke_flag[@]}" >"$RES/spawn-native-r$round.txt" 2>"$RES/spawn-native-r$round.err" ||
		die "spawn_bench failed natively: $(head -c 600 "$RES/spawn-native-r$round.err")"
	sed 's/^/   /' "$RES/spawn-native-r$round.txt" >&2
	say "spawn_bench, round $round/$ROUNDS: moat run ${SYS_RO[*]}"
	timeout $TMO "$MOAT" run "${SYS_RO[@]}" -- "$SPB" "${smoke_flag[@]}" \
		>"$RES/spawn-moat-r$round.txt" 2>"$RES/spawn-moat-r$round.err" ||
		die "spawn_bench failed in moat (status $?): $(head -c 600 "$RES/spawn-moat-r$round.err")"
	sed 's/^/   /' "$RES/spawn-moat-r$round.txt" >&2
done

# --- 5. TCP over loopback ---
NB=$BUILD/bench/net_bench
say "building $NB"
gcc -static -O2 -Wall -Wextra -o "$NB" "$ROOT/bench/net_bench.c"
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# net_run NAME SERVER_KIND CLIENT_KIND ROUND: one server, one client
# (which retries its connect while the server starts, then stops it).
net_run() {
	local name=$1 skind=$2 ckind=$3 round=$4 port spid st=0
	local f=$RES/net-$name-r$round
	port=$(free_port)
	local server=("$NB" server 127.0.0.1 "$port")
	if [ "$skind" = moat ]; then
		server=("$MOAT" run --net "tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:$port"
			-- "$NB" server 0.0.0.0 8080)
	fi
	local client=("$NB" client 127.0.0.1 "$port" --quit "${smoke_flag[@]}")
	if [ "$ckind" = moat ]; then
		client=("$MOAT" run --net "tcp.client://127.0.0.1:$port=tcp.client://*:*" -- "${client[@]}")
	fi
	say "tcp, round $round/$ROUNDS: $name (port $port)"
	timeout $TMO "${server[@]}" >"$f.server.out" 2>"$f.server.err" &
	spid=$!
	BG_PIDS+=("$spid")
	timeout $TMO "${client[@]}" >"$f.txt" 2>"$f.err" || st=$?
	if [ $st -ne 0 ]; then
		kill "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
		die "tcp $name: client failed (status $st): $(head -c 400 "$f.err"); server: $(head -c 400 "$f.server.err")"
	fi
	wait "$spid" || die "tcp $name: server ended with status $? after the client's quit: $(head -c 400 "$f.server.err")"
	BG_PIDS=()
	sed 's/^/   /' "$f.txt" >&2
}
for ((round = 1; round <= ROUNDS; round++)); do
	net_run native native native $round
	net_run moat-server moat native $round
	net_run moat-client native moat $round
done

# --- 5b. servers: redis-server and nginx, driven from the host ---
# Debian's redis-server and nginx (nginx-light), natively, under bwrap and
# inside moat, each on a free host port: bwrap shares the host's network
# only without --unshare-net, so it runs with --unshare-all --share-net;
# moat gets a tcp.server grant.  In each round every set-up (in an order
# that rotates from round to round) starts its server, which must answer
# with exactly what it was given, is measured by the host's load
# generator, must still answer correctly, and is stopped cleanly (redis:
# SHUTDOWN NOSAVE; nginx: SIGQUIT, its graceful stop) with exit status 0.
if [ $mode = full ]; then
	SRV_ROUNDS=4 REDIS_N=20000 WRK_SECONDS=3
else
	SRV_ROUNDS=1 REDIS_N=2000 WRK_SECONDS=1
fi
SRV=$SCRATCH/srv
mkdir -p "$SRV"
SRV_SETUPS=(native bwrap moat)
SRV_SYS=()
for d in /usr /lib /lib64 /bin /etc; do
	[ -e "$d" ] && SRV_SYS+=(--ro "$d")
done
# bwrap runs its servers as uid 65534 in its user namespace (still host
# root outside): as uid 0 there nginx's worker would try initgroups(),
# which a user namespace refuses.
BWRAP_NET=(bwrap --unshare-all --share-net --uid 65534 --gid 65534
	--ro-bind / / --dev /dev --proc /proc --die-with-parent)
# The host process to signal for a server: the first one named COMM among
# ROOT and its descendants, breadth first (the nginx master under timeout
# and bwrap; moat itself, which forwards the signal to the picoprocess).
descendant() { # ROOT COMM
	ps -e -o pid=,ppid=,comm= | awk -v root="$1" -v want="$2" '
		{ pid[NR] = $1; ppid[NR] = $2; comm[NR] = $3; if ($1 == root && $3 == want) { print $1; found = 1 } }
		END {
			if (found) exit
			level[root] = 1
			for (d = 0; d < 20; d++) {
				n = 0; delete next_level
				for (i = 1; i <= NR; i++)
					if (ppid[i] in level) {
						if (comm[i] == want) { print pid[i]; exit }
						next_level[pid[i]] = 1; n++
					}
				if (!n) exit
				delete level
				for (p in next_level) level[p] = 1
			}
		}'
}
# wait_srv PID NAME LOG: wait for a stopping server; die unless it exits 0.
wait_srv() {
	local st=0
	wait "$1" || st=$?
	BG_PIDS=()
	[ $st -eq 0 ] || die "$2: the server exited with status $st when stopped: $(tail -c 400 "$3")"
}
# srv_prefix SETUP PORT: SRV_PRE, the words that run a server in SETUP
# (its mappings come in $SRV_RO / $SRV_RW as HOST:VIRT pairs; bwrap binds
# the writable ones at their host paths over its read-only host root).
srv_prefix() { # SETUP PORT
	local m
	case $1 in
	native) SRV_PRE=() ;;
	bwrap) SRV_PRE=("${BWRAP_NET[@]}")
		for m in "${SRV_RW[@]}"; do SRV_PRE+=(--bind "${m%%:*}" "${m%%:*}"); done ;;
	moat) SRV_PRE=("$MOAT" run "${SRV_SYS[@]}"
			--net "tcp.server://0.0.0.0:8080=tcp.server://127.0.0.1:$2")
		for m in "${SRV_RO[@]}"; do SRV_PRE+=(--ro "$m"); done
		for m in "${SRV_RW[@]}"; do SRV_PRE+=(--rw "$m"); done
		SRV_PRE+=(--) ;;
	esac
}
# Inside moat a server listens on 8080 and uses its mappings' virtual
# paths; natively and under bwrap the host port and the host paths.
srv_path() { # SETUP HOST VIRT
	if [ "$1" = moat ]; then printf '%s' "$3"; else printf '%s' "$2"; fi
}
wait_until() { # SECONDS CMD...: retry CMD quietly
	local end=$((SECONDS + $1)); shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -lt $end ] || return 1
		sleep 0.05
	done
}

# redis: SET and GET, one client and 50 clients pipelining 16 requests.
REDIS_CONFIGS=("c1:-c 1" "c50p16:-c 50 -P 16")
redis_round() { # SETUP ROUND
	local sb=$1 round=$2 port dir f st=0 cfg val got
	port=$(free_port)
	dir=$SRV/redis-$sb-r$round
	mkdir -p "$dir" && chmod 777 "$dir" # moat's picoprocess runs as nobody
	f=$RES/srv-redis-$sb-r$round
	SRV_RO=() SRV_RW=("$dir:/data")
	srv_prefix "$sb" "$port"
	local d lport=$port bind=127.0.0.1
	d=$(srv_path "$sb" "$dir" /data)
	[ "$sb" = moat ] && lport=8080 bind=0.0.0.0
	say "redis-server, round $round/$SRV_ROUNDS: $sb (port $port)"
	timeout $TMO "${SRV_PRE[@]}" /usr/bin/redis-server --port "$lport" --bind $bind \
		--daemonize no --dir "$d" --save '' --appendonly no --logfile "$d/redis.log" \
		>"$f.server.out" 2>&1 &
	local spid=$!
	BG_PIDS=("$spid")
	rcli() { timeout 20 redis-cli -p "$port" "$@"; }
	pong() { [ "$(rcli ping 2>/dev/null)" = PONG ]; }
	wait_until 20 pong ||
		die "redis $sb: no PONG on port $port: $(tail -c 400 "$dir/redis.log" "$f.server.out" 2>&1)"
	val="moat bench $sb $round $RANDOM"
	got=$(rcli set bench:check "$val" 2>&1)
	[ "$got" = OK ] || die "redis $sb: SET answers '$got'"
	got=$(rcli get bench:check 2>&1)
	[ "$got" = "$val" ] || die "redis $sb: GET answers '$got', not '$val'"
	for cfg in "${REDIS_CONFIGS[@]}"; do
		# shellcheck disable=SC2086
		timeout $TMO redis-benchmark -p "$port" -t set,get -n $REDIS_N ${cfg#*:} --csv \
			>"$f-${cfg%%:*}.csv" 2>"$f-${cfg%%:*}.err" ||
			die "redis $sb: redis-benchmark ${cfg#*:} failed: $(head -c 400 "$f-${cfg%%:*}.err")"
		grep -q '^"GET","[0-9.]*"' "$f-${cfg%%:*}.csv" ||
			die "redis $sb: redis-benchmark ${cfg#*:} gave no GET figure: $(head -c 400 "$f-${cfg%%:*}.csv")"
		printf '   redis %s %-7s %s\n' "$sb" "${cfg%%:*}" \
			"$(awk -F'"' '$2 ~ /^(SET|GET)$/ { printf "%s %s/s  ", $2, $4 }' "$f-${cfg%%:*}.csv")" >&2
	done
	got=$(rcli get bench:check 2>&1)
	[ "$got" = "$val" ] || die "redis $sb: after the load GET answers '$got', not '$val'"
	rcli shutdown nosave >/dev/null 2>&1 || true
	wait_srv "$spid" "redis $sb" "$dir/redis.log"
	grep -q 'ready to exit, bye bye' "$dir/redis.log" ||
		die "redis $sb: exited without its 'bye bye': $(tail -c 400 "$dir/redis.log")"
}

# nginx: one worker (client and server share the machine's CPUs),
# keep-alive, sendfile, no access log; a small page and a 1 MiB file.
NGX=$SRV/nginx
mkdir -p "$NGX/www" "$NGX/conf"
python3 -c 'import sys; sys.stdout.write("<html><body>" + "moat bench " * 30 + "</body></html>\n")' \
	>"$NGX/www/small.html"
head -c 1048576 /dev/urandom >"$NGX/www/1m.bin"
chmod -R a+rX "$NGX"
printf '%s %s %s %s\n' $SRV_ROUNDS $REDIS_N $WRK_SECONDS "$(stat -c %s "$NGX/www/small.html")" \
	>"$RES/srv-params.txt"
NGINX_FILES=(small.html 1m.bin)
NGINX_CONFIGS=("c1:-t 1 -c 1" "c10:-t 2 -c 10")
nginx_conf() { # LISTEN WWW RUN
	cat <<CONF
user root;
worker_processes 1;
pid $3/nginx.pid;
error_log $3/error.log info;
daemon off;
events { worker_connections 256; }
http {
    access_log off;
    sendfile on;
    keepalive_requests 1000000;
    client_body_temp_path $3/body;
    proxy_temp_path $3/proxy;
    fastcgi_temp_path $3/fastcgi;
    uwsgi_temp_path $3/uwsgi;
    scgi_temp_path $3/scgi;
    types { text/html html; application/octet-stream bin; }
    server { listen $1; root $2; }
}
CONF
}
nginx_round() { # SETUP ROUND
	local sb=$1 round=$2 port run conf f file cfg url st=0 sig
	port=$(free_port)
	run=$SRV/nginx-$sb-r$round
	mkdir -p "$run" "$NGX/conf-$sb-r$round" && chmod 777 "$run"
	conf=$NGX/conf-$sb-r$round
	f=$RES/srv-nginx-$sb-r$round
	if [ "$sb" = moat ]; then
		nginx_conf 8080 /www /run >"$conf/nginx.conf"
	else
		nginx_conf "127.0.0.1:$port" "$NGX/www" "$run" >"$conf/nginx.conf"
	fi
	SRV_RO=("$NGX/www:/www" "$conf:/conf") SRV_RW=("$run:/run")
	srv_prefix "$sb" "$port"
	local c r
	c=$(srv_path "$sb" "$conf" /conf) r=$(srv_path "$sb" "$run" /run)
	url=http://127.0.0.1:$port
	say "nginx, round $round/$SRV_ROUNDS: $sb (port $port)"
	timeout $TMO "${SRV_PRE[@]}" /usr/sbin/nginx -e "$r/error.log" -c "$c/nginx.conf" \
		>"$f.server.out" 2>&1 &
	local spid=$!
	BG_PIDS=("$spid")
	wait_until 20 curl -sf --max-time 2 -o /dev/null "$url/small.html" ||
		die "nginx $sb: no answer on port $port: $(tail -c 400 "$run/error.log" "$f.server.out" 2>&1)"
	nginx_check() { # WHEN
		local file
		for file in "${NGINX_FILES[@]}"; do
			curl -sf --max-time 20 -o "$run/got" "$url/$file" &&
				cmp -s "$run/got" "$NGX/www/$file" ||
				die "nginx $sb: $1, /$file does not arrive byte for byte"
		done
		rm -f "$run/got"
	}
	nginx_check "before the load"
	for file in "${NGINX_FILES[@]}"; do
		for cfg in "${NGINX_CONFIGS[@]}"; do
			local o=$f-${file%%.*}-${cfg%%:*}.txt
			# shellcheck disable=SC2086
			timeout $TMO wrk ${cfg#*:} -d "${WRK_SECONDS}s" "$url/$file" >"$o" 2>&1 ||
				die "nginx $sb: wrk ${cfg#*:} /$file failed: $(head -c 400 "$o")"
			grep -q '^Requests/sec: *[0-9.]*[1-9]' "$o" ||
				die "nginx $sb: wrk ${cfg#*:} /$file: no requests/s: $(head -c 400 "$o")"
			! grep -q 'Non-2xx' "$o" ||
				die "nginx $sb: wrk ${cfg#*:} /$file got error responses: $(grep Non-2xx "$o")"
			printf '   nginx %s %-10s %-4s %s\n' "$sb" "$file" "${cfg%%:*}" \
				"$(awk '/^Requests\/sec:/ { printf "%s/s", $2 } /Socket errors/ { printf "  (%s)", $0 }' "$o")" >&2
		done
	done
	nginx_check "after the load"
	# SIGQUIT is nginx's graceful stop: to the master natively and under
	# bwrap, to moat (which forwards it to the picoprocess) inside moat.
	if [ "$sb" = moat ]; then sig=$(descendant "$spid" moat); else sig=$(descendant "$spid" nginx); fi
	[ -n "$sig" ] || die "nginx $sb: no process to stop under $spid"
	kill -QUIT "$sig"
	wait_srv "$spid" "nginx $sb" "$run/error.log"
	if grep -E '\[(emerg|alert|crit)\]' "$run/error.log" >"$f.alerts"; then
		die "nginx $sb: its error log has alerts: $(head -c 400 "$f.alerts")"
	fi
	grep -q 'exited with code 0' "$run/error.log" ||
		die "nginx $sb: the worker did not exit 0: $(tail -c 400 "$run/error.log")"
}
for ((round = 1; round <= SRV_ROUNDS; round++)); do
	for i in 0 1 2; do
		redis_round "${SRV_SETUPS[$(((i + round - 1) % 3))]}" $round
	done
	for i in 0 1 2; do
		nginx_round "${SRV_SETUPS[$(((i + round - 1) % 3))]}" $round
	done
done

# --- 6. applications: python3 and sqlite3 ---
# Whole-process timings by hyperfine, like section 1, of real Debian
# programs: each sandbox gets what the program needs (moat: the system
# directories read-only, the script read-only, the database directory
# read-write; bwrap: the host root read-only and the database directory
# bound read-write; runsc do: its overlay over the host root, so the
# database is written to gVisor's memory, not the host disk).  Every
# command is run once first and must print what it prints natively.
PY=/usr/bin/python3
SQLITE=/usr/bin/sqlite3
APPS=$SCRATCH/apps
mkdir -p "$APPS"
cp "$ROOT/bench/py_work.py" "$APPS/py_work.py"
python3 - "$APPS/inserts.sql" <<'PYEOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("DROP TABLE IF EXISTS t;\n"
            "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, n INTEGER);\nBEGIN;\n")
    for i in range(10000):
        f.write(f"INSERT INTO t(name, n) VALUES ('name-{i % 100}', {i * 7 % 1000});\n")
    f.write("COMMIT;\nSELECT count(*), sum(n), count(DISTINCT name) FROM t;\n"
            "SELECT name, sum(n) FROM t WHERE n > 500 GROUP BY name ORDER BY 2 DESC LIMIT 3;\n")
PYEOF
chmod -R a+rX "$APPS"
if [ $mode = full ]; then PY_N=20000; else PY_N=2000; fi
echo $PY_N >"$RES/py-n.txt"
APP_RO=()
for d in /usr /lib /lib64 /bin /etc; do
	[ -e "$d" ] && APP_RO+=(--ro "$d")
done
BWRAP=(bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc)
declare -a A_KEYS=() A_CMDS=() A_RUNS=()
# app GROUP SANDBOX RUNS CMD...: check CMD's output, then queue it.
app() {
	local group=$1 sb=$2 runs=$3; shift 3
	local cmd out=$RES/app-$group-$sb.out
	cmd=$(printf '%q ' "$@")
	timeout $TMO "$@" >"$out" 2>"$RES/app-$group-$sb.err" ||
		die "$group in $sb: '$cmd' fails: $(head -c 400 "$RES/app-$group-$sb.err")"
	if [ "$sb" != native ] && ! cmp -s "$out" "$RES/app-$group-native.out"; then
		die "$group in $sb prints something else than natively: $(head -c 200 "$out")"
	fi
	A_KEYS+=("$group/$sb") A_CMDS+=("${cmd% }") A_RUNS+=("$runs")
}
if [ $mode = full ]; then R_START=20 R_WORK=5 R_SQL=10; else R_START=2 R_WORK=2 R_SQL=2; fi
for sb in native bwrap moat runsc; do
	[ $sb = runsc ] && [ "$runsc_status" != ok ] && continue
	mkdir -p "$APPS/db-$sb"
	chmod 777 "$APPS/db-$sb" # moat's picoprocess runs as nobody on the host
	case $sb in
	native) pre=() sq=() ;;
	bwrap) pre=("${BWRAP[@]}") sq=("${BWRAP[@]}" --bind "$APPS/db-$sb" "$APPS/db-$sb") ;;
	moat) pre=("$MOAT" run "${APP_RO[@]}" --ro "$APPS" --)
		sq=("$MOAT" run "${APP_RO[@]}" --ro "$APPS" --rw "$APPS/db-$sb" --) ;;
	runsc) pre=("${RUNSC_CMD[@]}") sq=("${RUNSC_CMD[@]}") ;;
	esac
	app py-start $sb $R_START "${pre[@]}" "$PY" -c pass
	app py-work $sb $R_WORK "${pre[@]}" "$PY" "$APPS/py_work.py" $PY_N
	app sqlite $sb $R_SQL "${sq[@]}" "$SQLITE" "$APPS/db-$sb/bench.db" ".read $APPS/inserts.sql"
done
for ((round = 1; round <= ROUNDS; round++)); do
	for i in "${!A_KEYS[@]}"; do
		key=${A_KEYS[$i]} group=${A_KEYS[$i]%/*} sb=${A_KEYS[$i]#*/}
		say "apps: $key, round $round/$ROUNDS, ${A_RUNS[$i]} runs: ${A_CMDS[$i]}"
		hyperfine -N --style basic --warmup 1 --runs "${A_RUNS[$i]}" -n "$sb" \
			--export-json "$RES/app-$group-$sb-r$round.json" "${A_CMDS[$i]}" \
			>"$RES/app-$group-$sb-r$round.log" 2>&1 ||
			die "hyperfine $key failed: $(tail -5 "$RES/app-$group-$sb-r$round.log")"
		grep -E 'Time' "$RES/app-$group-$sb-r$round.log" | sed 's/^/   /' >&2 || true
	done
done

# --- 10. checkpoint and restore ---
# bench/ckpt_criu.sh measures CRIU (when CRIU=PATH or the default build is
# there; it says so and goes on when it is not) and moat's checkpoint and
# resume (when this moat has them).  A failure is reported, not fatal.
# It runs before sections 3 and 7: after their hundreds of sandboxes
# (a network namespace each) the kernel goes on tearing namespaces down
# for minutes, and every moat start, checkpoint and resume after them
# took about twice as long with the CPUs idle.  A full run waits for
# quiet CPUs first, as at its start.
if [ $mode = full ]; then
	CK_RUNS=5
	python3 "$ROOT/bench/report.py" wait-idle --max-seconds 60 --busy 15 >&2 || true
else
	# A smoke run proves the harness on the small workloads; the 256 MiB
	# heaps and redis's 100k keys are what a full run is for.
	CK_RUNS=1
	: "${CKPT_WORKLOADS:=busybox heap10m python}"
	export CKPT_WORKLOADS
fi
say "checkpoint and restore: bench/ckpt_criu.sh --runs $CK_RUNS"
if ! MOAT=$MOAT BUSYBOX=$BUSYBOX timeout $((TMO * 4)) "$ROOT/bench/ckpt_criu.sh" --runs $CK_RUNS \
	>"$RES/ckpt.txt" 2>"$RES/ckpt.err"; then
	{ grep '^bench/ckpt_criu.sh: ' "$RES/ckpt.err" || tail -1 "$RES/ckpt.err"; } | tail -1 >"$RES/ckpt-failed.txt"
	say "warning: bench/ckpt_criu.sh failed (in the report): $(cat "$RES/ckpt-failed.txt")"
fi
sed 's/^/   /' "$RES/ckpt.txt" >&2
# 256 MiB dirtied at 10 MB/s, 3 moves (about 12 s each); a smoke run
# moves 64 MiB once.
if [ $mode = full ]; then MIG_ARGS=(--runs 3); else MIG_ARGS=(--runs 1 --mib 64); fi
say "live migration: bench/migrate.sh ${MIG_ARGS[*]}"
if ! MOAT=$MOAT timeout $((TMO * 2)) "$ROOT/bench/migrate.sh" "${MIG_ARGS[@]}" \
	>"$RES/mig.txt" 2>"$RES/mig.err"; then
	{ grep '^bench/migrate.sh: ' "$RES/mig.err" || tail -1 "$RES/mig.err"; } | tail -1 >"$RES/mig-failed.txt"
	say "warning: bench/migrate.sh failed (in the report): $(cat "$RES/mig-failed.txt")"
fi
sed 's/^/   /' "$RES/mig.txt" >&2

# --- 3. memory per idle sandbox ---
# N copies of busybox ash, each printing "ready" and then idling in a read
# of its stdin; bench/pss.py sums the Pss of every process of every copy.
IDLE=("$BUSYBOX" sh -c 'echo ready; read x; exit 0')
if [ $mode = full ]; then MEM_NS="1 10 100" MEM_SETTLE=2; else MEM_NS="1 2" MEM_SETTLE=0.5; fi
mem() { # NAME CMD...
	local name=$1; shift
	local n
	for n in $MEM_NS; do
		say "memory: $name, N=$n x busybox sh idling in read"
		timeout $TMO python3 "$ROOT/bench/pss.py" --name "$name" --n $n --settle $MEM_SETTLE \
			--out "$RES/mem-$name-$n.json" -- "$@" "${IDLE[@]}" ||
			say "warning: memory measurement $name N=$n had errors (in the report)"
	done
}
mem native
mem bwrap "${BWRAP[@]}"
mem moat "$MOAT" run --
if [ "$runsc_status" = ok ]; then
	mem runsc "${RUNSC_CMD[@]}"
fi

# --- 3b. memory of a packaged app: N copies share the package's pages ---
# base.mpk (libc, ld.so) <- python3.mpk (python3 and its standard library,
# packed from this host) <- idle.mpk (python3 printing "ready", then
# reading stdin).  The same program through host mappings is the baseline.
PKG=$SCRATCH/pkgs
mkdir -p "$PKG/empty"
if [ $mode = full ]; then PKG_NS="1 10 50"; else PKG_NS="1 2"; fi
PY_IDLE='import sys; print("ready", flush=True); sys.stdin.read()'
"$MOAT" pack --from-host /lib/x86_64-linux-gnu/libc.so.6 --name base --version 1.0 \
	-o "$PKG/base.mpk" >&2 &&
"$MOAT" pack --from-host /usr/bin/python3 --add /usr/lib/python3.11 \
	--name python3 --version 3.11 --depends 'base >=1' --pkg-path "$PKG" -o "$PKG/python3.mpk" >&2 &&
printf '[Identity]\nname = idle\nversion = 1.0\n[Dependency.python3]\nversion = >=3\n[Application]\nentry = file:///usr/bin/python3\narguments = -c %s\n' \
	"'$PY_IDLE'" >"$PKG/idle.ini" &&
"$MOAT" pack "$PKG/empty" -m "$PKG/idle.ini" -o "$PKG/idle.mpk" >&2 ||
	die "packing the python3 packages failed"
for n in $PKG_NS; do
	say "memory: python3 idle from packages, N=$n"
	timeout $TMO python3 "$ROOT/bench/pss.py" --name pkg --n $n --settle $MEM_SETTLE \
		--out "$RES/pkgmem-pkg-$n.json" -- "$MOAT" run "$PKG/idle.mpk" ||
		say "warning: package memory N=$n had errors (in the report)"
	say "memory: python3 idle through host mappings, N=$n"
	timeout $TMO python3 "$ROOT/bench/pss.py" --name host --n $n --settle $MEM_SETTLE \
		--out "$RES/pkgmem-host-$n.json" -- "$MOAT" run --ro /usr --ro /lib --ro /lib64 -- \
		/usr/bin/python3 -c "$PY_IDLE" ||
		say "warning: host-mapped python memory N=$n had errors (in the report)"
done
ls -l "$PKG"/*.mpk | awk '{ print $5, $9 }' >"$RES/pkg-sizes.txt"

# --- 7. density ---
# Idle sandboxes, started 8 at a time, until the first failure or
# DENSITY_MAX; each runs bench/echo_idle and must answer a ping at the
# end; then all are ended by closing their stdin (bench/density.py).
# gVisor is left out: 1000 of them would take 15 GiB and several minutes.
EI=$BUILD/bench/echo_idle
gcc -static -O2 -Wall -Wextra -o "$EI" "$ROOT/bench/echo_idle.c"
if [ $mode = full ]; then DENSITY_MAX=${MOAT_BENCH_DENSITY:-1000}; else DENSITY_MAX=10; fi
dens() { # NAME CMD...
	local name=$1; shift
	say "density: $name, up to $DENSITY_MAX idle copies"
	timeout $((TMO * 3)) python3 "$ROOT/bench/density.py" --name "$name" --max "$DENSITY_MAX" \
		--tmpdir "$SCRATCH/density-tmp-$name" --out "$RES/density-$name.json" -- "$@" "$EI" ||
		say "warning: density $name did not reach $DENSITY_MAX cleanly (in the report)"
}
dens native
dens bwrap "${BWRAP[@]}"
dens moat "$MOAT" run --

t_end=$(date +%s)
# CPU seconds of everything this script waited for (user + system of the
# children), so the report can tell other work on the machine from ours.
times >"$RES/times.txt" # not in a pipe: a subshell would report its own (zero) times
own_cpu=$(tail -1 "$RES/times.txt" | awk '{ s = 0; for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] } print s }')
python3 "$ROOT/bench/report.py" render "$RES" "$out" --seconds $((t_end - t_start)) --own-cpu "$own_cpu"
say "wrote $out ($((t_end - t_start)) s)"
