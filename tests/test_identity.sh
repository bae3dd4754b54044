#!/usr/bin/env bash
# The identity model and file ownership: the set*id calls, umask and
# chown inside behave as natively as root (tests/libos_identity.c); chown
# inside a writable mapping is recorded beside the file and seen by stat
# inside, in later runs too, while the host file's real owner never
# changes and the host's permissions still decide access.
. "$(dirname "$0")/lib.sh"

# A copy nobody may execute (the program execs itself as nobody).
P=$WORK/libos_identity
cp "$BUILD/tests/libos_identity" "$P"
chmod 755 "$P"
T=$WORK/t
mkdir -m 755 "$T"

if [ "$(id -u)" = 0 ]; then
	GRANTS="--ro $P --rw $T" same_output "set*id, umask, chown and access as natively as root" "$P" "$T"
else
	echo "SKIP the native comparison needs root"
fi

# chown is recorded, never done on the host.
D=$WORK/own
mkdir -m 755 "$D"
echo hi >"$D/f"
ln -s f "$D/l"
host_owner=$(stat -c %u:%g "$D/f")
BB=/bin/busybox
RUN=("$MOAT" run --ro "$BB" --rw "$D" --)
out=$("${RUN[@]}" $BB sh -c "chown 1000:1000 $D/f && chown -h 1234:4321 $D/l && stat -c %u:%g $D/f $D/l" 2>&1)
check_eq "chown inside: stat inside shows the new owner" "1000:1000 1234:4321" "$(echo $out)"
out=$("${RUN[@]}" $BB stat -c %u:%g "$D/f" 2>&1)
check_eq "a second run sees the recorded owner" "1000:1000" "$out"
check_eq "the host owner is unchanged" "$host_owner" "$(stat -c %u:%g "$D/f")"
out=$("$MOAT" run --ro "$BB" --ro "$D" -- $BB stat -c %u:%g "$D/f" 2>&1)
check_eq "a read-only mapping shows the host owner" "$host_owner" "$out"
out=$("${RUN[@]}" $BB sh -c "chmod 4755 $D/f; stat -c %a $D/f" 2>&1)
check_eq "the setuid bit is recorded and shown inside" "4755" "$out"
check_eq "the host file never gets the setuid bit" "755" "$(stat -c %a "$D/f")"

# The host's permissions still decide: a monitor running as nobody cannot
# read root's 0600 file, whatever owner it records or the app claims.
if [ "$(id -u)" = 0 ]; then
	S=$WORK/nb
	mkdir -m 755 "$S"
	echo secret >"$S/secret"
	chmod 600 "$S/secret"
	echo mine >"$S/mine"
	chown 65534:65534 "$S" "$S/mine"
	AS=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	out=$("${AS[@]}" "$MOAT" run --ro "$BB" --rw "$S" -- $BB sh -c \
		"$BB cat $S/secret 2>/dev/null || echo denied; $BB chown 1:1 $S/secret 2>/dev/null || echo refused;
		 $BB chown 4321:4321 $S/mine && $BB stat -c %u:%g $S/mine && $BB cat $S/mine" 2>&1)
	check_eq "the host denies what it denies; chown inside grants nothing" \
		"denied refused 4321:4321 mine" "$(echo $out)"
	check_eq "the host owner of a chowned file stays the monitor's user" \
		"65534:65534" "$(stat -c %u:%g "$S/mine")"
	check_eq "root's file keeps its owner" "0:0" "$(stat -c %u:%g "$S/secret")"
fi

# tar as root restores the archive's owners, as seen inside.
A=$WORK/arch
mkdir -p "$A/src/d" "$WORK/x"
echo data >"$A/src/d/file"
tar -C "$A/src" --owner=1000 --group=1000 --numeric-owner -cf "$A/a.tar" d
out=$("$MOAT" run --ro /usr --ro /lib --ro /lib64 --ro /bin --ro /etc --ro "$A" --rw "$WORK/x" -- \
	/bin/sh -c "cd $WORK/x && tar -xf $A/a.tar && stat -c '%u:%g %n' d d/file" 2>&1)
check_eq "tar xf inside restores the archive's owners" "1000:1000 d 1000:1000 d/file" "$(echo $out)"
check_eq "tar xf inside leaves the host owner alone" "$(id -u):$(id -g)" \
	"$(stat -c %u:%g "$WORK/x/d/file")"
