#!/usr/bin/env bash
# demo.sh -- moat's main job in one screen: an unmodified static program
# (Debian's busybox) runs in a picoprocess under examples/demo/app.ini,
# reads and writes what was granted, and is refused everything else.
set -u
cd "$(dirname "$0")/.."
MOAT=${MOAT:-build/moat}
APP=examples/demo/app.ini
mkdir -p examples/demo/out
rm -f examples/demo/out/*

step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() {
	step "moat run $APP -- $*"
	"$MOAT" run "$APP" -- "$@"
	echo "[exit status $?]"
}

echo "moat demo: busybox in a picoprocess; the manifest grants /data (read-only) and /out (writable)."
step "cat $APP"
cat "$APP"

run cat /data/hello.txt
run ls -l /data /
run sha256sum /data/hello.txt
run sh -c 'echo written inside the picoprocess > /out/note.txt'
step "cat examples/demo/out/note.txt   # on the host"
cat examples/demo/out/note.txt

echo
echo "--- and now what the manifest does not grant ---"
run cat /etc/passwd
run cat /data/../private/secret.txt
run cat /data/sneaky-link
run sh -c 'echo overwrite > /data/hello.txt'
run ls /home /root /etc
echo
echo "Each refusal happened inside the picoprocess: the monitor resolved the path"
echo "against the manifest and never opened anything outside it."
