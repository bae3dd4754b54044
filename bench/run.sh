#!/usr/bin/env bash
# bench/run.sh -- moat's benchmarks, measured in one run on this machine.
#
#   bench/run.sh            full run (~2-3 min): writes docs/benchmarks.md
#   bench/run.sh --smoke    3 runs of everything (< 60 s): proves the harness
#                           works; writes build/bench/benchmarks-smoke.md and
#                           never touches docs/benchmarks.md
#   --out FILE              write the report to FILE instead
#
# `make bench` / `make bench-smoke` install hyperfine and bubblewrap and
# build moat first.  What is measured:
#
#   1. start-to-exit of `busybox true` natively, under bubblewrap (with
#      --unshare-all, the isolation closest to moat's, and minimal), under
#      `moat run`, and under gVisor (`runsc --rootless --network=none do`)
#      when runsc works here -- hyperfine, medians of many runs;
#   2. per-operation costs (getpid, open+close, stat, read/write 4 KiB and
#      1 MiB) from bench/syscall_bench.c, natively and inside moat;
#   3. (full run only) memory: summed Pss of each sandbox's processes while
#      N = 1 and N = 10 copies idle in `busybox sleep 5`.
#
# Raw results (hyperfine JSON, syscall_bench output, Pss JSON) stay in
# build/bench/results-{full,smoke}/; bench/report.py turns them into the
# Markdown report.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
MOAT=${MOAT:-$BUILD/moat}
export MOAT_PICO=${MOAT_PICO:-$BUILD/moat-pico}
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

if [ $mode = full ]; then
	RUNS=200 WARMUP=10 RUNSC_RUNS=200 RUNSC_WARMUP=5
else
	RUNS=3 WARMUP=1 RUNSC_RUNS=3 RUNSC_WARMUP=1
fi

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
trap 'rm -rf "$SCRATCH"' EXIT
# Every sandbox starts from the same neutral directory.
cd "$SCRATCH"

t_start=$(date +%s)
python3 "$ROOT/bench/report.py" meta "$RES/meta.json" --mode $mode \
	--root "$ROOT" --moat "$MOAT" --busybox "$BUSYBOX"

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
start() { # NAME RUNS WARMUP CMD...
	local name=$1 runs=$2 warm=$3; shift 3
	local cmd
	cmd=$(printf '%q ' "$@")
	say "start: $name ($runs runs): $cmd"
	"$@" >/dev/null 2>"$RES/start-$name.err" ||
		die "$name: '$cmd' fails: $(head -c 400 "$RES/start-$name.err")"
	hyperfine -N --style basic --warmup "$warm" --runs "$runs" -n "$name" \
		--export-json "$RES/start-$name.json" "${cmd% }" >"$RES/start-$name.log" 2>&1 ||
		die "hyperfine $name failed: $(tail -5 "$RES/start-$name.log")"
	grep -E 'Time|Range' "$RES/start-$name.log" | sed 's/^/   /' >&2 || true
}
start native $RUNS $WARMUP "$BUSYBOX" true
start bwrap $RUNS $WARMUP bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc "$BUSYBOX" true
start bwrap-min $RUNS $WARMUP bwrap --ro-bind / / "$BUSYBOX" true
start moat $RUNS $WARMUP "$MOAT" run -- "$BUSYBOX" true
if [ "$runsc_status" = ok ]; then
	start runsc $RUNSC_RUNS $RUNSC_WARMUP "${RUNSC_CMD[@]}" "$BUSYBOX" true
fi

# --- 2. per-operation costs ---
SB=$BUILD/bench/syscall_bench
say "building $SB"
gcc -static -O2 -Wall -Wextra -o "$SB" "$ROOT/bench/syscall_bench.c"
smoke_flag=()
[ $mode = smoke ] && smoke_flag=(--smoke)
mkdir -p "$SCRATCH/native" "$SCRATCH/moat"
chmod 755 "$SCRATCH/native" "$SCRATCH/moat"
say "syscall_bench: native"
"$SB" "$SCRATCH/native" "${smoke_flag[@]}" >"$RES/ops-native.txt" ||
	die "syscall_bench failed natively"
sed 's/^/   /' "$RES/ops-native.txt" >&2
say "syscall_bench: moat run --rw $SCRATCH/moat"
"$MOAT" run --rw "$SCRATCH/moat" -- "$SB" "$SCRATCH/moat" "${smoke_flag[@]}" \
	>"$RES/ops-moat.txt" 2>"$RES/ops-moat.err" ||
	die "syscall_bench failed in moat: $(head -c 600 "$RES/ops-moat.err")"
sed 's/^/   /' "$RES/ops-moat.txt" >&2

# --- 3. memory per idle sandbox (full run only) ---
if [ $mode = full ]; then
	mem() { # NAME CMD...
		local name=$1; shift
		for n in 1 10; do
			say "memory: $name, N=$n x busybox sleep 5"
			python3 "$ROOT/bench/pss.py" --name "$name" --n $n --settle 3 \
				--out "$RES/mem-$name-$n.json" -- "$@" "$BUSYBOX" sleep 5 ||
				die "memory measurement $name N=$n failed"
		done
	}
	mem native
	mem bwrap bwrap --unshare-all --ro-bind / / --dev /dev --proc /proc
	mem moat "$MOAT" run --
	if [ "$runsc_status" = ok ]; then
		mem runsc "${RUNSC_CMD[@]}"
	fi
fi

t_end=$(date +%s)
python3 "$ROOT/bench/report.py" render "$RES" "$out" --seconds $((t_end - t_start))
say "wrote $out ($((t_end - t_start)) s)"
