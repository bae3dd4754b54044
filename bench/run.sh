#!/usr/bin/env bash
# bench/run.sh -- moat's benchmarks, measured in one run on this machine.
#
#   bench/run.sh            full run (~8 min, after waiting up to 2 min for
#                           idle CPUs): writes docs/benchmarks.md
#   bench/run.sh --smoke    2-3 runs of everything (~1 min): proves the harness
#                           works; writes build/bench/benchmarks-smoke.md and
#                           never touches docs/benchmarks.md
#   --out FILE              write the report to FILE instead
#
# `make bench` / `make bench-smoke` install hyperfine and bubblewrap and
# build moat first.  What is measured:
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
#   6. python3 startup (`python3 -c pass`), a python3 workload
#      (bench/py_work.py: json, re, hashlib) and the sqlite3 CLI (10k inserts
#      in a transaction into a file database, then two queries), natively,
#      under bwrap, moat and runsc -- hyperfine;
#   7. density: idle sandboxes (bench/echo_idle) started until the first
#      failure or 1000 (10 in smoke runs), the start rate, whether each
#      still answers, and a clean teardown (bench/density.py), natively,
#      under bwrap and under moat.
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

for tool in hyperfine bwrap python3 gcc; do
	command -v $tool >/dev/null || die "$tool not found (run 'make bench-deps')"
done
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
