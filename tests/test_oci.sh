#!/usr/bin/env bash
# moat as an OCI runtime (tools/oci.c, docs/oci.md): a caller drives it
# exactly as conmon or containerd's shim drive runc -- create with a
# bundle and a pid file, state, start, state, kill, state, delete -- and
# waits on the pid-file process as their subreaper does: its status is
# the app's.  Wrong orders and unknown ids give one line and a non-zero
# status; hostile state is refused; the container reaches its root and
# mounts only.  tests/test_oci_podman.sh runs podman itself.
. "$(dirname "$0")/lib.sh"

BB=/bin/busybox
R=$WORK/root          # --root
B=$WORK/bundle        # the bundle: config.json and rootfs/
SECRET=$WORK/secret   # a host file outside the bundle
echo "host secret" >"$SECRET"
mkdir -p "$B/rootfs/bin" "$B/rootfs/etc" "$B/rootfs/data" "$WORK/shared"
cp "$BB" "$B/rootfs/bin/busybox"
for a in sh cat echo sleep ls id touch true; do ln -s busybox "$B/rootfs/bin/$a"; done
echo "inside the image" >"$B/rootfs/etc/motd"
ln -s "$SECRET" "$B/rootfs/etc/link-out"   # an absolute link to the host file
ln -s ../../../../../../.."$SECRET" "$B/rootfs/etc/climb"
echo "shared file" >"$WORK/shared/f"
[ -x "$BUILD/tests/escape" ] && cp "$BUILD/tests/escape" "$B/rootfs/bin/escape"

# config NAME ARGS-JSON [READONLY]: write $B/config.json.
config() {
	cat >"$B/config.json" <<EOF
{
  "ociVersion": "1.0.2",
  "process": {
    "terminal": false,
    "user": {"uid": ${UID_IN:-0}, "gid": ${GID_IN:-0}},
    "args": $1,
    "env": ["PATH=/bin", "GREETING=hello from env"],
    "cwd": "/",
    "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}]
  },
  "root": {"path": "rootfs", "readonly": ${2:-true}},
  "hostname": "oci-test",
  "annotations": {"org.example.test": "lifecycle"},
  "mounts": [
    {"destination": "/proc", "type": "proc", "source": "proc"},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid"]},
    {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"},
    {"destination": "/data", "type": "bind", "source": "$WORK/shared", "options": ["rbind", "ro"]}
  ],
  "linux": {
    "resources": {"memory": {"limit": 268435456}, "pids": {"limit": 64}},
    "namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "network"}]
  }
}
EOF
}

# The caller: a subreaper (as conmon and the containerd shim are) that
# runs moat's commands and waits on the pid-file process.
#   caller.py MOAT ROOT BUNDLE ID SCRIPT   (SCRIPT: words ; separated)
cat >"$WORK/caller.py" <<'EOF'
import ctypes, json, os, subprocess, sys, time
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
moat, root, bundle, cid, script = sys.argv[1:6]
work = os.path.dirname(root)
pid = None
def run(*args, out=None):
    r = subprocess.run([moat, "--root", root, "--log", work + "/oci.log", "--log-format", "json"]
                       + list(args), stdout=subprocess.PIPE if out is None else out,
                       stderr=subprocess.PIPE, text=True)
    return r
for step in script.split(";"):
    w = step.split()
    if w[0] == "create":
        with open(work + "/c.out", "w") as o, open(work + "/c.err", "w") as e:
            r = subprocess.run([moat, "--root", root, "create", "--bundle", bundle,
                                "--pid-file", work + "/pid", cid], stdout=o, stderr=e)
        pid = int(open(work + "/pid").read())
        print("create", r.returncode, "pid-is-child" if os.path.exists("/proc/%d" % pid) else "no-pid")
    elif w[0] == "state":
        r = run("state", cid)
        if r.returncode:
            print("state", r.returncode, r.stderr.strip())
        else:
            s = json.loads(r.stdout)
            print("state", s["status"], "pid-matches" if s["pid"] == pid else "pid=%d" % s["pid"],
                  s["annotations"].get("org.example.test"), s["bundle"] == bundle)
    elif w[0] == "wait":  # at most 20 s: a hang is a failure, not a stuck test
        for _ in range(400):
            p, st = os.waitpid(pid, os.WNOHANG)
            if p:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, 9)
            _, st = os.waitpid(pid, 0)
            print("hung", end=" ")
        print("exited", os.WEXITSTATUS(st) if os.WIFEXITED(st) else "signal %d" % os.WTERMSIG(st))
    elif w[0] == "sleep":
        time.sleep(float(w[1]))
    elif w[0] == "until":  # until FILE: the container wrote it
        for _ in range(200):
            if os.path.exists(work + "/c.out") and w[1] in open(work + "/c.out").read():
                break
            time.sleep(0.05)
    else:
        r = run(*[cid if x == "ID" else x for x in w])
        print(w[0], r.returncode, r.stderr.strip())
        if w[0] == "ps":
            pids = json.loads(r.stdout)
            print("pids", len(pids) >= 2 and pids[0] == pid and all(type(p) is int for p in pids))
    sys.stdout.flush()
EOF

caller() { python3 "$WORK/caller.py" "$MOAT" "$R" "$B" "$@"; }

# 1. The lifecycle of a container that ends by itself with status 7.
config '["sh", "-c", "echo hi; cat /etc/motd; echo $GREETING; exit 7"]'
out=$(caller c1 "create;state;start ID;wait;state;delete ID;state")
check_eq "create: 0, the pid file names a live process" "create 0 pid-is-child" "$(sed -n 1p <<<"$out")"
check_eq "state after create: created, the pid, the annotations, the bundle" \
	"state created pid-matches lifecycle True" "$(sed -n 2p <<<"$out")"
check_eq "start: 0" "start 0 " "$(sed -n 3p <<<"$out")"
check_eq "the pid-file process's exit status is the app's (sh -c 'exit 7')" "exited 7" "$(sed -n 4p <<<"$out")"
check_eq "state after the end: stopped, pid 0" "state stopped pid=0 lifecycle True" "$(sed -n 5p <<<"$out")"
check_eq "delete: 0" "delete 0 " "$(sed -n 6p <<<"$out")"
check_eq "state after delete: does not exist" 'state 1 moat: container "c1" does not exist' "$(sed -n 7p <<<"$out")"
check_eq "the app's output: root.path is /, env passed" "hi|inside the image|hello from env|" \
	"$(tr '\n' '|' <"$WORK/c.out")"
[ -e "$R/c1" ] && fail "delete removes the state directory" "$R/c1 is still there" ||
	pass "delete removes the state directory"

# 2. A long-running one: running, kill by name, killed by that signal.
config '["sh", "-c", "echo ready; sleep 30; echo not-reached"]'
out=$(caller c2 "create;start ID;until ready;state;start ID;delete ID;kill ID TERM;wait;state;kill ID KILL;delete ID")
check_eq "state after start: running" "state running pid-matches lifecycle True" "$(sed -n 3p <<<"$out")"
check_eq "start twice: one line, non-zero" "start 1 moat: cannot start a container that is running: c2" "$(sed -n 4p <<<"$out")"
check_eq "delete of a running container without --force: one line, non-zero" \
	"delete 1 moat: cannot delete container c2 that is not stopped: running" "$(sed -n 5p <<<"$out")"
check_eq "kill ID TERM: 0" "kill 0 " "$(sed -n 6p <<<"$out")"
check_eq "the pid-file process ends by SIGTERM, as the app did" "exited signal 15" "$(sed -n 7p <<<"$out")"
check_eq "state after kill: stopped" "state stopped pid=0 lifecycle True" "$(sed -n 8p <<<"$out")"
check_eq "kill of a stopped container: one line, non-zero" "kill 1 moat: container not running: c2" "$(sed -n 9p <<<"$out")"
check_eq "delete after kill: 0" "delete 0 " "$(sed -n 10p <<<"$out")"
grep -q "not-reached" "$WORK/c.out" && fail "the app did not go on after TERM" "$(cat "$WORK/c.out")" ||
	pass "the app did not go on after TERM"

# 3. Signal numbers, kill of a created container, delete --force.
out=$(caller c3 "create;kill ID 9;wait;delete ID")
check_eq "kill ID 9 of a created container ends it (SIGKILL)" "kill 0 |exited signal 9|delete 0 " \
	"$(sed -n 2,4p <<<"$out" | tr '\n' '|' | sed 's/|$//')"
out=$(caller c4 "create;start ID;until ready;delete --force ID;state")
check_eq "delete --force of a running container" "delete 0 |state 1 moat: container \"c4\" does not exist" \
	"$(sed -n 3,4p <<<"$out" | tr '\n' '|' | sed 's/|$//')"

# 4. Wrong orders and unknown ids.
RT=("$MOAT" --root "$R")
out=$("${RT[@]}" start nosuch 2>&1); rc=$?
check_eq "start of an unknown id: one line, non-zero" "1 moat: container \"nosuch\" does not exist" "$rc $out"
out=$("${RT[@]}" kill nosuch KILL 2>&1); rc=$?
check_eq "kill of an unknown id (with --root)" "1 moat: container \"nosuch\" does not exist" "$rc $out"
out=$("${RT[@]}" delete nosuch 2>&1); rc=$?
check_eq "delete of an unknown id" "1 moat: container \"nosuch\" does not exist" "$rc $out"
out=$("${RT[@]}" delete --force nosuch 2>&1); rc=$?
check_eq "delete --force of an unknown id is no error (as runc)" "0 " "$rc $out"
out=$("${RT[@]}" state '../x' 2>&1); rc=$?
check_eq "an id with a slash is refused in one line" "1 1" "$rc $(grep -c . <<<"$out")"
out=$("${RT[@]}" kill c9 NOSUCHSIG 2>&1); rc=$?
check_eq "an unknown signal name" '1 moat: kill: unknown signal "NOSUCHSIG"' "$rc $out"
out=$(caller c5 "create;create")
check_eq "create of an existing id" "create 1 pid-is-child" "$(sed -n 2p <<<"$out")"
grep -q "container with id exists: c5" "$WORK/c.err" && pass "it says the id exists" ||
	fail "it says the id exists" "$(cat "$WORK/c.err")"
"${RT[@]}" delete --force c5 >/dev/null 2>&1

# 5. Hostile state: corrupt, a link, a directory others may write.
out=$(caller c6 "create")
cp "$R/c6/state.json" "$WORK/state.good"
printf '{"ociVersion":"1.0.2","id":"c6","pid":"1; rm -rf /","bundle":"/"}' >"$R/c6/state.json"
out=$("${RT[@]}" state c6 2>&1); rc=$?
check_eq "a corrupt state.json is refused" "1 moat: state of container \"c6\" is corrupt ($R/c6/state.json); refusing it" "$rc $out"
printf '{"ociVersion":"1.0.2","id":"other","pid":1,"pidStart":0,"bundle":"/","created":"x","annotations":{}}' >"$R/c6/state.json"
out=$("${RT[@]}" kill c6 KILL 2>&1); rc=$?
check_eq "state naming pid 1 and another id is refused (no kill of init)" \
	"1 moat: state of container \"c6\" is corrupt ($R/c6/state.json); refusing it" "$rc $out"
rm "$R/c6/state.json"; ln -s "$WORK/state.good" "$R/c6/state.json"
out=$("${RT[@]}" state c6 2>&1); rc=$?
check_eq "a state.json that is a link is refused" "1" "$rc"
rm "$R/c6/state.json"; cp "$WORK/state.good" "$R/c6/state.json"; chmod 0777 "$R/c6"
out=$("${RT[@]}" state c6 2>&1); rc=$?
check_eq "a state directory others may write is refused" \
	"1 moat: state of container \"c6\": writable by others (mode 777); refusing it" "$rc $out"
chmod 0700 "$R/c6"
out=$("${RT[@]}" delete --force c6 2>&1); rc=$?
check_eq "restored, it deletes" "0 " "$rc $out"
check_eq "the state directories are 0700" "700" "$(stat -c %a "$R")"

# 6. Hostile config.json.
C=$WORK/badbundle; mkdir -p "$C/rootfs"
bad() {
	printf '%s' "$2" >"$C/config.json"
	out=$("${RT[@]}" create --bundle "$C" bad1 2>&1); rc=$?
	if [ $rc -ne 0 ] && [ "$(grep -c . <<<"$out")" = 1 ] && grep -q -- "$3" <<<"$out" && [ ! -e "$R/bad1" ]; then
		pass "$1"
	else
		fail "$1" "rc $rc: $out"
	fi
}
bad "not JSON" '{"ociVersion": "1.0.2",' "config.json:1:"
bad "args of the wrong type" '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":"sh","cwd":"/"}}' "process.args: expected an array"
bad "a uid out of range" '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/x"],"cwd":"/","user":{"uid":4294967296,"gid":0}}}' "process.user.uid: expected an integer"
bad "a relative cwd" '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/x"],"cwd":"x"}}' "process.cwd: expected an absolute path"
bad "a root that does not exist" '{"ociVersion":"1.0.2","root":{"path":"nope"},"process":{"args":["/x"],"cwd":"/"}}' "root.path"
bad "a bind of a host device" '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/x"],"cwd":"/"},"mounts":[{"destination":"/x","type":"bind","source":"/dev/null"}]}' "not a directory or a regular file"
bad "a mount destination with .." '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["/x"],"cwd":"/"},"mounts":[{"destination":"/a/../../etc","type":"bind","source":"/etc"}]}' "mounts\[0\]"
bad "a terminal (not supported yet)" '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"terminal":true,"args":["/x"],"cwd":"/"}}' "process.terminal"
bad "a duplicate key" '{"ociVersion":"1.0.2","ociVersion":"1.0.2"}' "duplicate"
bad "a program that is not in the image" '{"ociVersion":"1.0.2","root":{"path":"rootfs"},"process":{"args":["nosuch"],"cwd":"/"}}' "not found in the container's PATH"

# 7. What config.json asks that moat cannot honour: one line each, in the log.
cat >"$C/config.json" <<EOF
{"ociVersion":"1.0.2","root":{"path":"$B/rootfs"},"process":{"args":["true"],"env":["PATH=/bin"],"cwd":"/",
 "capabilities":{"bounding":["CAP_CHOWN","CAP_SYS_ADMIN"]}},
 "linux":{"seccomp":{"defaultAction":"SCMP_ACT_ALLOW"},"devices":[{"path":"/dev/sda","type":"b","major":8,"minor":0}],
 "namespaces":[{"type":"network","path":"/proc/1/ns/net"}]}}
EOF
# (to a file: the container's process holds create's stdout until it ends)
"${RT[@]}" create --bundle "$C" rep1 >"$WORK/rep.out" 2>&1; rc=$?; out=$(cat "$WORK/rep.out")
check_eq "unhonoured fields: create still works" "0" "$rc"
for f in "process.capabilities: CAP_SYS_ADMIN" "linux.seccomp" "linux.devices" "linux.namespaces network"; do
	grep -q "moat: warning: $f" <<<"$out" && pass "reported: $f" || fail "reported: $f" "$out"
done
"${RT[@]}" delete --force rep1 >/dev/null 2>&1
rm -f "$WORK/oci.log"
"${RT[@]}" --log "$WORK/oci.log" --log-format json create --bundle "$C" rep2 >/dev/null 2>&1
python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert all(set(l) == {"level", "msg", "time"} for l in lines), lines
print(sum(l["level"] == "warning" for l in lines))' "$WORK/oci.log" >"$WORK/n" 2>&1
check_eq "with --log-format json the reports are JSON lines in the log" "4" "$(cat "$WORK/n")"
"${RT[@]}" delete --force rep2 >/dev/null 2>&1

# 8. The container reaches its root and mounts only.
config "[\"sh\", \"-c\", \"cat $SECRET; cat /etc/link-out; cat /etc/climb; cat /data/f; echo x >/etc/new; echo y >/data/new; echo z >/tmp/t && cat /tmp/t; ls /data\"]"
out=$(caller e1 "create;start ID;wait;delete ID")
err=$(cat "$WORK/c.out" "$WORK/c.err")
grep -q "host secret" <<<"$err" && fail "a host file outside the root is unreachable" "$err" ||
	pass "a host file outside the root is unreachable (path, absolute and climbing links)"
check_eq "the read-only bind mount is read, the tmpfs written" "shared file|z|f|" "$(tr '\n' '|' <"$WORK/c.out")"
grep -q "can't create /etc/new: Read-only file system" "$WORK/c.err" && pass "root.readonly: / is read-only" ||
	fail "root.readonly: / is read-only" "$(cat "$WORK/c.err")"
grep -q "can't create /data/new: Read-only file system" "$WORK/c.err" && pass "a bind mount with ro is read-only" ||
	fail "a bind mount with ro is read-only" "$(cat "$WORK/c.err")"
[ ! -e "$B/rootfs/etc/new" ] && [ ! -e "$WORK/shared/new" ] && pass "nothing was written on the host" ||
	fail "nothing was written on the host" "$(ls "$B/rootfs/etc" "$WORK/shared")"
if [ -x "$B/rootfs/bin/escape" ]; then
	# As under moat run: the app's own openat finds no such path, and a
	# host call through the PAL's gate kills the picoprocess (the filter).
	config "[\"sh\", \"-c\", \"escape raw openat $SECRET; escape raw openat /proc/1/root$SECRET; escape gate openat $SECRET\"]"
	out=$(caller e2 "create;start ID;wait;delete ID")
	all=$(cat "$WORK/c.out" "$WORK/c.err")
	if ! grep -q "host secret\|success" <<<"$all" && [ "$(grep -c "raw openat: -2 (ENOENT)" "$WORK/c.out")" = 2 ] &&
		grep -q "killed by the seccomp filter" "$WORK/c.err" && grep -q "exited signal 31" <<<"$out"; then
		pass "the escape program fails inside a container as under moat run (ENOENT; the gate call killed by SIGSYS)"
	else
		fail "the escape program fails inside a container as under moat run" "$out $all"
	fi
fi

# 9. A writable root, a user, run (create + start + wait + delete).
UID_IN=1000 GID_IN=1000 config '["sh", "-c", "id -u; id -g; echo w >/etc/written; exit 3"]' false
"${RT[@]}" run --bundle "$B" r1 >"$WORK/r.out" 2>"$WORK/r.err"; rc=$?
check_eq "run: the app's status" "3" "$rc"
check_eq "process.user: the ids inside" "1000|1000|" "$(tr '\n' '|' <"$WORK/r.out")"
check_eq "a writable root is written" "w" "$(cat "$B/rootfs/etc/written" 2>&1)"
[ -e "$R/r1" ] && fail "run deletes its state" "$R/r1" || pass "run deletes its state"
rm -f "$B/rootfs/etc/written"

# 10. features, --version, ps.
"${RT[@]}" features | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["ociVersionMax"])' >"$WORK/f" 2>&1
check_eq "features: JSON" "1.0.2" "$(cat "$WORK/f")"
config '["sh", "-c", "echo ready; sleep 30"]'
out=$(caller p1 "create;start ID;until ready;ps --format json ID;delete --force ID")
check_eq "ps --format json: the monitor and the picoprocess's pids" "ps 0 |pids True" \
	"$(sed -n 3,4p <<<"$out" | tr '\n' '|' | sed 's/|$//')"
