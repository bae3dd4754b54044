#!/usr/bin/env bash
# test_manifest_drawbridge.sh -- manifests as Drawbridge wrote them
# (docs/manifest.md, "Drawbridge spelling"): the seed's sample manifest
# parses as written; each Drawbridge key maps onto moat's own (identity,
# version, dependency ranges, Exe); bad values and two spellings that
# disagree are one clear line and a non-zero exit.
. "$(dirname "$0")/lib.sh"

BB=/bin/busybox
mkdir -p "$WORK/empty" "$WORK/out"

# The sample manifest from the Drawbridge talk, byte for byte (the blank
# line holding one space included).
cat >"$WORK/sample.ini" <<'EOF'
[Package]
ManifestVersion=1
PackageRevision=4

[Identity]
Name=IISWorker
MajorVersion=7
MinorVersion=5
BuildNumber=7601
Architecture=x64

 
[Dependency.Win7]
Name=Windows
MajorVersion=6
MinorVersion=1

[Dependency.CLR4]
Name=MicrosoftNET
MajorVersion=4
MinorVersion=0

[Windows.Application]
Exe=package:///windows/system32/inetsrv/w3wp.exe

[Windows.Registry]
File:///w3wp.exe.dblog
EOF

# ---- the sample, as written ----
"$MOAT" pack "$WORK/empty" -m "$WORK/sample.ini" -o "$WORK/out/iis.mpk" 2>"$WORK/err"
rc=$?
check_eq "moat pack -m of the Drawbridge sample manifest succeeds" "0" "$rc"
check_eq "[Windows.Registry] is ignored with one note naming file, line and section" \
	"moat pack: note: $WORK/sample.ini:26: [Windows.Registry] ignored: a Windows feature of Drawbridge manifests, with no meaning on Linux" \
	"$(cat "$WORK/err")"
out=$("$MOAT" inspect "$WORK/out/iis.mpk" 2>&1)
want="package:  IISWorker 7.5.7601 (x86_64)
revision: 4
ignored:  $WORK/out/iis.mpk:26: [Windows.Registry] ignored: a Windows feature of Drawbridge manifests, with no meaning on Linux"
check_eq "the sample's identity: Name, MajorVersion.MinorVersion.BuildNumber, x64, PackageRevision" \
	"$want" "$(echo "$out" | head -3)"
[[ $out == *"depends:"*"  Windows >=6.1, <7"*"  MicrosoftNET >=4.0, <5"*"entry:    /windows/system32/inetsrv/w3wp.exe"* ]] &&
	pass "the sample's dependencies are >=MAJOR.MINOR, <MAJOR+1 and Exe is the entry" ||
	fail "the sample's dependencies and Exe" "${out:0:500}"
out=$("$MOAT" verify "$WORK/out/iis.mpk" 2>&1)
check_eq "moat verify reads the sample's package" \
	"$WORK/out/iis.mpk: ok (IISWorker 7.5.7601, 1 entries, checksums match)" "$out"

# Run as a plain manifest: the manifest is fine, the Windows program is
# what is missing.
out=$("$MOAT" run "$WORK/sample.ini" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ $out == *"moat: note: $WORK/sample.ini:26: [Windows.Registry] ignored"* ]] &&
   [[ $out == *"cannot run /windows/system32/inetsrv/w3wp.exe"* ]] &&
   [[ $out != *"unknown"* ]]; then
	pass "moat run of the sample fails on the missing w3wp.exe, not on the manifest"
else
	fail "moat run of the sample fails on the missing w3wp.exe" "rc $rc: ${out:0:400}"
fi

# ---- each key maps ----
SRC=$WORK/src
mkdir -p "$SRC/bin" "$SRC/etc"
cp $BB "$SRC/bin/busybox"
printf 'from hello\n' >"$SRC/etc/msg"
cat >"$WORK/hello.ini" <<'EOF'
[Package]
ManifestVersion=1
[Identity]
Name=hello
MajorVersion=1
MinorVersion=2
BuildNumber=3
[Linux.Application]
Exe=package:///bin/busybox
arguments = cat /etc/msg
EOF
"$MOAT" pack "$SRC" -m "$WORK/hello.ini" -o "$WORK/out/hello.mpk"
out=$("$MOAT" inspect "$WORK/out/hello.mpk" 2>&1)
[[ $out == "package:  hello 1.2.3 (any)"*"entry:    /bin/busybox"* ]] &&
	pass "Name=hello MajorVersion=1 MinorVersion=2 BuildNumber=3 shows as hello 1.2.3" ||
	fail "Drawbridge identity maps to hello 1.2.3" "${out:0:300}"
out=$("$MOAT" run "$WORK/out/hello.mpk" 2>&1)
check_eq "[Linux.Application] Exe=package:///bin/busybox runs that program" "from hello" "$out"

# A plain manifest with [Windows.Application] Exe=file:///... runs too.
printf '[Windows.Application]\nExe = file://%s\narguments = echo plain\n[Namespace]\nfile://%s = file://%s\n' \
	"$BB" "$BB" "$BB" >"$WORK/plain.ini"
out=$("$MOAT" run "$WORK/plain.ini" 2>&1)
check_eq "[Windows.Application] Exe=file:///... is the entry of a plain manifest" "plain" "$out"

# [Dependency.base] Name=base MajorVersion=1 MinorVersion=0: >=1.0, <2.
base() { # DIR VERSION
	mkdir -p "$WORK/$1" "$WORK/b$2/etc"
	printf 'base %s\n' "$2" >"$WORK/b$2/etc/base"
	printf '[Identity]\nname = base\nversion = %s\n' "$2" >"$WORK/base$2.ini"
	"$MOAT" pack "$WORK/b$2" -m "$WORK/base$2.ini" -o "$WORK/$1/base-$2.mpk"
}
base v14 1.4; base v20 2.0; base v09 0.9
cp "$WORK/v14/base-1.4.mpk" "$WORK/v20/"   # with 2.0 beside it, 1.4 is still the one
mkdir -p "$WORK/app"
cat >"$WORK/app.ini" <<'EOF'
[Package]
ManifestVersion=1
[Identity]
Name=app
MajorVersion=1
MinorVersion=0
[Dependency.base]
Name=base
MajorVersion=1
MinorVersion=0
[Application]
Exe=package:///bin/busybox
arguments = cat /etc/base
EOF
"$MOAT" pack "$SRC" -m "$WORK/app.ini" -o "$WORK/app/app.mpk"
out=$("$MOAT" run --pkg-path "$WORK/v14" "$WORK/app/app.mpk" 2>&1)
check_eq "MajorVersion=1 MinorVersion=0 resolves base 1.4" "base 1.4" "$out"
out=$("$MOAT" run --pkg-path "$WORK/v20" "$WORK/app/app.mpk" 2>&1)
check_eq "... and prefers it to base 2.0 (another major)" "base 1.4" "$out"
rm "$WORK/v20/base-1.4.mpk"
for v in 20 09; do
	out=$("$MOAT" run --pkg-path "$WORK/v$v" "$WORK/app/app.mpk" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] && [[ $out == *"app 1.0 needs base >=1.0, <2"* ]]; then
		pass "base ${v:0:1}.${v:1} does not satisfy MajorVersion=1 MinorVersion=0"
	else
		fail "base ${v:0:1}.${v:1} does not satisfy MajorVersion=1" "rc $rc: ${out:0:300}"
	fi
done

# Both spellings in one manifest are fine when they agree.
cat >"$WORK/both.ini" <<'EOF'
[Package]
manifest_version = 1
ManifestVersion = 1
[Identity]
name = both
Name = both
version = 2.1.0
MajorVersion = 2
MinorVersion = 1
architecture = x86_64
Architecture = amd64
[Dependency.base]
version = >=1.0,<2
MajorVersion = 1
MinorVersion = 0
[Application]
entry = file:///bin/busybox
Exe = package:///bin/busybox
EOF
"$MOAT" pack "$WORK/empty" -m "$WORK/both.ini" -o "$WORK/out/both.mpk" 2>"$WORK/err"
check_eq "both spellings agreeing in one manifest" "0 " "$? $(cat "$WORK/err")"

# ---- bad values: one line naming file, line and key, non-zero exit ----
bad() { # NAME EXPECTED-MESSAGE (after "moat pack: FILE:"), manifest on stdin
	local f=$WORK/bad-$RANDOM.ini
	cat >"$f"
	out=$("$MOAT" pack "$WORK/empty" -m "$f" -o "$WORK/out/bad.mpk" 2>&1)
	local rc=$?
	if [ $rc -ne 0 ] && [ "$out" == "moat pack: $f:$2" ]; then
		pass "$1"
	else
		fail "$1" "rc $rc: expected [moat pack: $f:$2] got [$out]"
	fi
}
bad "ManifestVersion=2 is refused" \
	"2: [Package] ManifestVersion: manifest version '2' is not one moat reads; expected 1" <<'EOF'
[Package]
ManifestVersion=2
[Identity]
Name=x
MajorVersion=1
EOF
bad "MajorVersion=-1 is refused" \
	"3: [Identity] MajorVersion: expected a non-negative integer (at most 9 digits), got '-1'" <<'EOF'
[Identity]
Name=x
MajorVersion=-1
EOF
bad "PackageRevision=four is refused" \
	"2: [Package] PackageRevision: expected a non-negative integer (at most 9 digits), got 'four'" <<'EOF'
[Package]
PackageRevision=four
[Identity]
Name=x
MajorVersion=1
EOF
bad "Architecture=arm64 is refused: this host runs x86_64" \
	"4: [Identity] Architecture: 'arm64' cannot run here: this host runs x86_64 (Architecture=x64)" <<'EOF'
[Identity]
Name=x
MajorVersion=1
Architecture=arm64
EOF
bad "name and Name that disagree" \
	"3: [Identity] Name: 'y' disagrees with name = 'x' on line 2; the two spellings name one setting and must agree" <<'EOF'
[Identity]
name = x
Name = y
version = 1
EOF
bad "version and MajorVersion.MinorVersion that disagree" \
	"5: [Identity] MajorVersion: 1.3 (MajorVersion.MinorVersion.BuildNumber) disagrees with version = '1.2' on line 2; the two spellings name one setting and must agree" <<'EOF'
[Identity]
version = 1.2
name = x
MinorVersion = 3
MajorVersion = 1
EOF
bad "MinorVersion without MajorVersion" \
	"3: [Identity] MinorVersion: given without MajorVersion" <<'EOF'
[Identity]
name = x
MinorVersion = 3
EOF
bad "a dependency's version and MajorVersion that disagree" \
	"7: [Dependency.base] MinorVersion: '>=2.0, <3' (MajorVersion, MinorVersion) disagrees with version = '>=1' on line 5; the two spellings name one setting and must agree" <<'EOF'
[Identity]
Name=x
MajorVersion=1
[Dependency.base]
version = >=1
MajorVersion = 2
MinorVersion = 0
EOF
bad "entry and Exe that disagree" \
	"6: [Windows.Application] Exe: '/bin/sh' disagrees with entry = '/bin/busybox' on line 5; the two spellings name one setting and must agree" <<'EOF'
[Identity]
Name=x
MajorVersion=1
[Windows.Application]
entry = file:///bin/busybox
Exe = package:///bin/sh
EOF
bad "an unknown Drawbridge-looking key is still unknown" \
	"3: [Identity] Revision: unknown key; expected name, version or architecture (or Drawbridge's Name, MajorVersion, MinorVersion, BuildNumber, Architecture)" <<'EOF'
[Identity]
Name=x
Revision=1
EOF

# The same errors through moat run of a plain manifest.
printf '[Package]\nManifestVersion=2\n[Application]\nExe=file:///bin/true\n' >"$WORK/run-bad.ini"
out=$("$MOAT" run "$WORK/run-bad.ini" 2>&1)
rc=$?
check_eq "moat run: ManifestVersion=2 is one line, exit non-zero" \
	"1 moat: $WORK/run-bad.ini:2: [Package] ManifestVersion: manifest version '2' is not one moat reads; expected 1" \
	"$([ $rc -ne 0 ] && echo 1 || echo 0) $out"
