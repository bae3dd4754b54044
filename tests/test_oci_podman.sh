#!/usr/bin/env bash
# podman with moat as its OCI runtime (docs/oci.md): conmon calls moat's
# create/start/state/kill/delete.  The image is busybox-static imported
# from a tarball (no registry is reachable); podman keeps its images and
# containers under $WORK (vfs), so the host's podman store is untouched.
# Skipped when podman is not installed (apt-get install podman).
. "$(dirname "$0")/lib.sh"

if ! command -v podman >/dev/null 2>&1; then
	echo "SKIP podman not installed"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "SKIP podman tests run as root"
	exit 0
fi
# conmon does not pass MOAT_PICO through: a runtime script that sets it.
RT=$WORK/moat-runtime
printf '#!/bin/sh\nexec env MOAT_PICO=%s ASAN_OPTIONS=%s %s "$@"\n' "$MOAT_PICO" "$ASAN_OPTIONS" "$MOAT" >"$RT"
chmod 755 "$RT"
mkdir -p "$WORK/img/bin" "$WORK/img/etc"
cp /bin/busybox "$WORK/img/bin/busybox"
for a in sh echo cat sleep true; do ln -s busybox "$WORK/img/bin/$a"; done
tar -C "$WORK/img" -cf "$WORK/img.tar" .
P=(podman --root "$WORK/storage" --runroot "$WORK/run" --storage-driver vfs --runtime "$RT"
   --cgroup-manager cgroupfs --events-backend file)
"${P[@]}" import "$WORK/img.tar" localhost/moat-bb:test >/dev/null 2>"$WORK/import.err" ||
	{ fail "podman import of the busybox rootfs" "$(cat "$WORK/import.err")"; exit 0; }

out=$(timeout 60 "${P[@]}" run --rm --network none localhost/moat-bb:test busybox echo hi 2>"$WORK/e"); rc=$?
check_eq "podman --runtime moat run --rm IMAGE busybox echo hi" "0 hi" "$rc $out"
timeout 60 "${P[@]}" run --rm --network none localhost/moat-bb:test sh -c 'exit 7' 2>"$WORK/e"; rc=$?
check_eq "the exit status passes through podman (sh -c 'exit 7')" "7" "$rc"
out=$(timeout 60 "${P[@]}" run --rm --network none localhost/moat-bb:test cat "$WORK/img.tar" 2>&1); rc=$?
[ $rc -ne 0 ] && pass "a host file outside the image is unreachable under podman" ||
	fail "a host file outside the image is unreachable under podman" "rc $rc"
id=$(timeout 60 "${P[@]}" run -d --network none localhost/moat-bb:test sleep 60 2>"$WORK/e")
st=$("${P[@]}" inspect -f '{{.State.Status}}' "$id" 2>&1)
check_eq "podman run -d: running" "running" "$st"
start=$(date +%s)
timeout 60 "${P[@]}" stop -t 5 "$id" >/dev/null 2>"$WORK/e"
took=$(( $(date +%s) - start ))
code=$("${P[@]}" inspect -f '{{.State.ExitCode}}' "$id" 2>&1)
check_eq "podman stop: ended by SIGTERM (143)" "143" "$code"
[ $took -le 4 ] && pass "podman stop takes effect before the 5 s timeout" || fail "podman stop in time" "$took s"
"${P[@]}" rm -f "$id" >/dev/null 2>&1
"${P[@]}" rmi -f localhost/moat-bb:test >/dev/null 2>&1
