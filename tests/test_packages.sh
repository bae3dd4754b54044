#!/usr/bin/env bash
# test_packages.sh -- .mpk packages: pack, inspect, verify, run; a chain
# app -> python3 (packed from the host) -> base; dependency errors;
# tampered and truncated packages refused; packages never modified by a
# run; whiteouts and the copy-on-write upper layer; --overlay.
. "$(dirname "$0")/lib.sh"

BB=/bin/busybox
P=$WORK/pkgs
mkdir -p "$P"

# ---- a packed directory runs after its source is gone ----
SRC=$WORK/src
mkdir -p "$SRC/bin" "$SRC/etc/sub" "$SRC/data"
cp $BB "$SRC/bin/busybox"
ln -s busybox "$SRC/bin/sh"
printf 'hello from a package\n' >"$SRC/etc/msg"
printf 'deep\n' >"$SRC/etc/sub/file"
seq 1 5000 >"$SRC/data/numbers"
cat >"$WORK/hello.ini" <<'EOF'
[Package]
manifest_version = 1
[Identity]
name = hello
version = 1.2.3
[Application]
entry = file:///bin/busybox
arguments = cat /etc/msg
EOF
"$MOAT" pack "$SRC" -m "$WORK/hello.ini" -o "$P/hello.mpk" 2>"$WORK/err"
check_eq "moat pack DIR -m MANIFEST -o APP.mpk" "0" "$?"
(cd "$SRC" && $BB sh -c 'cat etc/msg; wc -l data/numbers; ls -l etc/sub/file | cut -c1-10; cat etc/sub/file') >"$WORK/native"
rm -rf "$SRC"
out=$("$MOAT" run "$P/hello.mpk" 2>&1)
check_eq "a packed directory runs after its source is deleted" "hello from a package" "$out"
out=$("$MOAT" run "$P/hello.mpk" -- sh -c 'cd / && busybox cat etc/msg; busybox wc -l data/numbers; busybox ls -l etc/sub/file | busybox cut -c1-10; busybox cat etc/sub/file' 2>&1)
check_eq "package files read back exactly (reads stop at each file's end)" "$(cat "$WORK/native")" "$out"

out=$("$MOAT" inspect "$P/hello.mpk")
case $out in
*"package:  hello 1.2.3"*"entry:    /bin/busybox"*"link     0777             /bin/sh -> busybox"*"file     0644         21  /etc/msg"*)
	pass "moat inspect shows identity, entry and files with sizes" ;;
*) fail "moat inspect shows identity, entry and files with sizes" "${out:0:400}" ;;
esac
out=$("$MOAT" verify "$P/hello.mpk")
check_eq "moat verify accepts an intact package" "$P/hello.mpk: ok (hello 1.2.3, 10 entries, checksums match)" "$out"

# Contents are page-aligned so that they can be mapped from the package.
off=$(python3 - "$P/hello.mpk" <<'EOF'
import struct, sys
d = open(sys.argv[1], "rb").read()
n, = struct.unpack_from("<I", d, 12)
idx, = struct.unpack_from("<Q", d, 32)
offs = [struct.unpack_from("<IIIIQQ", d, idx + 64 * i) for i in range(n)]
print(all(o[5] % 4096 == 0 for o in offs if (o[2] & 0o170000) == 0o100000))
EOF
)
check_eq "file contents start on page boundaries in the package" "True" "$off"

# ---- tampering, truncation, wrong version ----
refused() { # NAME FILE EXPECTED-TEXT
	local out rc
	out=$("$MOAT" run "$2" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [ "$(echo "$out" | wc -l)" -eq 1 ] && [[ $out == *"$3"* ]]; then
		pass "$1: $out"
	else
		fail "$1" "rc=$rc: ${out:0:300}"
	fi
}
cp "$P/hello.mpk" "$WORK/tampered.mpk"
size=$(stat -c %s "$WORK/tampered.mpk")
printf 'X' | dd of="$WORK/tampered.mpk" bs=1 seek=$((size - 200000)) conv=notrunc status=none
refused "a package with tampered contents is refused before anything runs" "$WORK/tampered.mpk" \
	"/bin/busybox: contents do not match their hash"
"$MOAT" verify "$WORK/tampered.mpk" >/dev/null 2>&1
check_eq "moat verify rejects the tampered package" "1" "$?"
cp "$P/hello.mpk" "$WORK/tampered-index.mpk"
printf 'Z' | dd of="$WORK/tampered-index.mpk" bs=1 seek=140 conv=notrunc status=none
refused "a package with a tampered manifest is refused" "$WORK/tampered-index.mpk" \
	"header checksum mismatch"
head -c $((size / 2)) "$P/hello.mpk" >"$WORK/truncated.mpk"
refused "a truncated package is refused" "$WORK/truncated.mpk" "truncated or extended"
head -c 100 "$P/hello.mpk" >"$WORK/stub.mpk"
refused "a package shorter than its header is refused" "$WORK/stub.mpk" "truncated (no complete header)"
cp "$P/hello.mpk" "$WORK/v9.mpk"
printf '\x09' | dd of="$WORK/v9.mpk" bs=1 seek=8 conv=notrunc status=none
refused "a package of another format version is refused" "$WORK/v9.mpk" "format version 9"
printf 'not a package at all, just text' >"$WORK/text.mpk"
refused "a file that is not a package is refused" "$WORK/text.mpk" "not a moat package"

# ---- writes go to a copy-on-write layer; the package never changes ----
sum_before=$(sha256sum <"$P/hello.mpk")
out=$("$MOAT" run "$P/hello.mpk" -- sh -c '
	cd / && busybox echo more >>/etc/msg && busybox cat /etc/msg &&
	busybox rm /etc/sub/file && busybox ls /etc/sub | busybox wc -l &&
	busybox mkdir -p /new/dir && busybox echo x >/new/dir/f && busybox ls /new/dir &&
	busybox mv /etc/msg /etc/renamed && busybox ls /etc &&
	busybox rm /bin/sh && busybox ls /bin' 2>&1)
want='hello from a package
more
0
f
renamed
sub
busybox'
check_eq "writes, deletes and renames of package paths work inside" "$want" "$out"
check_eq "the package is byte-identical after a run that wrote to its paths" "$sum_before" \
	"$(sha256sum <"$P/hello.mpk")"
out=$("$MOAT" run "$P/hello.mpk" 2>&1)
check_eq "the next run sees the package as it was" "hello from a package" "$out"
# Not even a shared writable mapping reaches the package.
out=$("$MOAT" run "$P/hello.mpk" -- sh -c 'busybox dd if=/dev/zero of=/data/numbers bs=1 count=3 conv=notrunc 2>/dev/null; busybox head -c 3 /data/numbers | busybox od -c | busybox head -1' 2>&1)
check_eq "an in-place write lands on the app's copy" "0000000  \\0  \\0  \\0" "$out"
check_eq "... and the package is still byte-identical" "$sum_before" "$(sha256sum <"$P/hello.mpk")"

# --overlay keeps the writes in a host directory, across runs.
mkdir -p "$WORK/ov"
"$MOAT" run --overlay "$WORK/ov" "$P/hello.mpk" -- sh -c 'busybox echo kept >/etc/note; busybox rm /etc/msg' 2>&1
out=$("$MOAT" run --overlay "$WORK/ov" "$P/hello.mpk" -- sh -c 'busybox cat /etc/note; busybox ls /etc' 2>&1)
check_eq "--overlay DIR keeps writes and deletions for the next run" "kept
note
sub" "$out"
check_eq "the overlay holds the new file and a whiteout" "kept|.wh.msg note" \
	"$(cat "$WORK/ov/etc/note")|$(ls -A "$WORK/ov/etc" | tr '\n' ' ' | sed 's/ $//')"
out=$("$MOAT" run --overlay "$WORK/ov" "$P/hello.mpk" -- sh -c 'busybox cat /etc/.wh.msg; busybox touch /etc/.wh.x' 2>&1)
case $out in
*"/etc/.wh.msg"*"Permission denied"*"/etc/.wh.x"*"Permission denied"*) pass "the layers' whiteouts cannot be read or made by the app" ;;
*) fail "the layers' whiteouts cannot be read or made by the app" "$out" ;;
esac

# ---- app -> python3 (from the host) -> base ----
"$MOAT" pack --from-host /lib/x86_64-linux-gnu/libc.so.6 --name base --version 12.0 \
	-o "$P/base.mpk" 2>"$WORK/err"
check_eq "pack --from-host of libc gives a base package" "0" "$?"
"$MOAT" pack --from-host /usr/bin/python3 --add /usr/lib/python3.11 --exclude '*/__pycache__*' \
	--name python3 --version 3.11.2 --depends 'base >=12, <13' --pkg-path "$P" \
	-o "$P/python3.mpk" 2>"$WORK/err"
check_eq "pack --from-host python3 --add its standard library" "0" "$?"
libc_in_python=$("$MOAT" inspect "$P/python3.mpk" | grep -c 'libc.so.6$')
libcrypto=$("$MOAT" inspect "$P/python3.mpk" | grep -c 'libcrypto.so')
check_eq "python3's package leaves libc to base and brings libcrypto for _hashlib" "0 1" \
	"$libc_in_python $libcrypto"
mkdir -p "$WORK/appsrc/app"
cat >"$WORK/appsrc/app/main.py" <<'EOF'
import hashlib, json, os, sqlite3, sys
db = sqlite3.connect(":memory:")
db.execute("create table t(x)")
db.executemany("insert into t values (?)", [(i,) for i in range(1000)])
print(json.dumps({"sum": db.execute("select sum(x) from t").fetchone()[0],
                  "sha": hashlib.sha256(b"moat").hexdigest()}))
print(sorted(os.listdir(os.path.dirname(os.path.abspath(__file__)))), sys.argv[1:])
EOF
cat >"$WORK/app.ini" <<'EOF'
[Identity]
name = report
version = 1.0
[Dependency.python3]
version = >=3.11, <4
[Application]
entry = file:///usr/bin/python3
arguments = /app/main.py
EOF
"$MOAT" pack "$WORK/appsrc" -m "$WORK/app.ini" -o "$P/report.mpk" 2>"$WORK/err"
native=$(cd "$WORK/appsrc" && python3 app/main.py a b)
out=$("$MOAT" run "$P/report.mpk" -- /app/main.py a b 2>&1)
check_eq "app -> python3 -> base runs, same output as native" "$native" "$out"
mkdir -p "$WORK/away" && mv "$P/base.mpk" "$WORK/away/"
out=$("$MOAT" run "$P/report.mpk" 2>&1)
rc=$?
[ $rc -ne 0 ] && [[ $out == *"missing dependency: python3 3.11.2 needs package 'base' version >=12, <13"* ]] &&
	pass "a removed dependency is named: $out" || fail "a removed dependency is named" "rc=$rc $out"
out=$("$MOAT" run --pkg-path "$WORK/away" "$P/report.mpk" -- /app/main.py 2>&1 | head -1)
check_eq "--pkg-path finds a dependency elsewhere" "$(echo "$native" | head -1)" "$out"
mv "$WORK/away/base.mpk" "$P/"

# ---- dependency errors ----
mkdir -p "$WORK/empty"
pkg() { # NAME VERSION DEPS...
	local name=$1 version=$2; shift 2
	{ printf '[Identity]\nname = %s\nversion = %s\n' "$name" "$version"
	  for d in "$@"; do printf '[Dependency.%s]\nversion = %s\n' "${d%% *}" "${d#* }"; done
	  printf '[Application]\nentry = file:///bin/busybox\n'; } >"$WORK/$name.ini"
	"$MOAT" pack "$WORK/empty" -m "$WORK/$name.ini" -o "$WORK/deps/$name.mpk"
}
mkdir -p "$WORK/deps"
pkg a 1.0 "b >=1" && pkg b 1.0 "a >=1"
out=$("$MOAT" run "$WORK/deps/a.mpk" 2>&1)
check_eq "a dependency cycle is reported by name" "moat: dependency cycle: a -> b -> a" "$out"
pkg c 1.0 "d >=2" && pkg d 1.5
out=$("$MOAT" run "$WORK/deps/c.mpk" 2>&1)
[[ $out == *"version conflict: c 1.0 needs d >=2, and the search path"*"has only d 1.5" ]] &&
	pass "an unsatisfiable version is reported: ${out:6}" || fail "an unsatisfiable version is reported" "$out"
pkg e 1.0 "f >=1" "g >=2" && pkg f 1.0 "g <2" && pkg g 2.0 && cp "$WORK/deps/g.mpk" "$WORK/deps/g2.mpk"
printf '[Identity]\nname = g\nversion = 1.0\n' >"$WORK/g1.ini" && "$MOAT" pack "$WORK/empty" -m "$WORK/g1.ini" -o "$WORK/deps/g1.mpk"
out=$("$MOAT" run "$WORK/deps/e.mpk" 2>&1)
[[ $out == *"version conflict: e 1.0 needs g >=2, but g 1.0 was chosen"* ]] &&
	pass "conflicting ranges are reported with both packages" || fail "conflicting ranges are reported" "$out"

# Manifest errors in a package name the file, the line and the key.
printf '[Identity]\nname = x\nversion = one\n' >"$WORK/bad.ini"
out=$("$MOAT" pack "$WORK/empty" -m "$WORK/bad.ini" -o "$WORK/bad.mpk" 2>&1)
check_eq "a bad version names file, line and key" \
	"moat pack: $WORK/bad.ini:3: [Identity] version: expected a version such as 3.11.2, got 'one'" "$out"
printf '[Identity]\nname = x\nversion = 1\n[Dependency.y]\nversion = >>2\n' >"$WORK/bad2.ini"
out=$("$MOAT" pack "$WORK/empty" -m "$WORK/bad2.ini" -o "$WORK/bad.mpk" 2>&1)
check_eq "a bad version range names file, line and key" \
	"moat pack: $WORK/bad2.ini:5: [Dependency.y] version: expected a version range such as '>=3.11, <4', got '>>2'" "$out"
printf '[Application]\nentry = file:///bin/true\n' >"$WORK/anon.ini"
out=$("$MOAT" pack "$WORK/empty" -m "$WORK/anon.ini" -o "$WORK/bad.mpk" 2>&1)
check_eq "a package needs a name and a version" \
	"moat pack: $WORK/anon.ini: [Identity] name and version: missing; every package needs both" "$out"

# ---- learn mode ----
mkdir -p "$WORK/learn"
cat >"$WORK/learn/app.py" <<'EOF2'
import json, sys
data = open("/data/in.txt").read().split()
print(json.dumps({"words": len(data), "first": data[0]}))
if len(sys.argv) > 1:
    print(open(sys.argv[1]).read()[:5])
EOF2
echo "alpha beta gamma" >"$WORK/learn/in.txt"
out=$("$MOAT" run --learn "$WORK/learned.ini" --ro "$WORK/learn/app.py:/app/app.py" \
	--ro "$WORK/learn/in.txt:/data/in.txt" -- /usr/bin/python3 /app/app.py 2>"$WORK/err")
check_eq "learn mode runs the app" '{"words": 3, "first": "alpha"}' "$out"
check_eq "learn mode says where it wrote the manifest" "moat: learn mode: wrote $WORK/learned.ini" "$(cat "$WORK/err")"
grep -q '^file:///usr/lib/x86_64-linux-gnu/libc.so.6 = file:///usr/lib/x86_64-linux-gnu/libc.so.6$' "$WORK/learned.ini" &&
	grep -q '^file:///lib64/ld-linux-x86-64.so.2 = file:///usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2$' "$WORK/learned.ini" &&
	! grep -q 'passwd\|shadow\|^file:/// ' "$WORK/learned.ini" &&
	pass "the learned manifest grants what was reached, as named and as resolved" ||
	fail "the learned manifest grants what was reached" "$(head -c 600 "$WORK/learned.ini")"
out=$("$MOAT" run "$WORK/learned.ini" 2>&1)
check_eq "the learned manifest runs the app" '{"words": 3, "first": "alpha"}' "$out"
out=$("$MOAT" run "$WORK/learned.ini" -- /app/app.py /etc/passwd 2>&1)
case $out in
*'"alpha"'*"FileNotFoundError: [Errno 2] No such file or directory: '/etc/passwd'"*)
	pass "a path not touched while learning is denied" ;;
*) fail "a path not touched while learning is denied" "${out:0:300}" ;;
esac
out=$("$MOAT" run --learn "$WORK/l2.ini" --ro /usr -- /usr/bin/python3 -c 'open("/usr/new", "w")' 2>&1)
[[ $out == *"Read-only file system: '/usr/new'"* ]] && pass "learn mode grants no writes" ||
	fail "learn mode grants no writes" "${out:0:300}"
out=$("$MOAT" run --learn "$WORK/l3.ini" "$P/hello.mpk" 2>&1)
check_eq "learn mode with a package is refused" \
	"moat: --learn: works with a manifest or the command-line form, not with a package such as $P/hello.mpk" "$out"
