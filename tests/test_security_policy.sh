#!/usr/bin/env bash
# Policy attacks on the monitor's attribute and link calls: a forged
# request that names a symlink planted in a writable mapping must change
# nothing on the host, and app-level chmod/link/rename through such links
# must be refused.
. "$(dirname "$0")/lib.sh"

ESC=$BUILD/tests/escape
CANARY=$WORK/canary
mkdir -p "$WORK/w"
echo canary >"$CANARY"
chmod 600 "$CANARY"
ln -s "$CANARY" "$WORK/w/abs"
ln -s ../canary "$WORK/w/rel"
chmod -R a+rwX "$WORK/w"

for link in abs rel; do
	for mode in raw gate; do
		out=$("$MOAT" run --rw "$WORK/w:/w" -- "$ESC" $mode chmodlink /w/$link 2>&1)
		check_eq "forged chmod of /w/$link ($mode) leaves the host file's mode" \
			600 "$(stat -c %a "$CANARY")"
	done
done

# Through the LibOS: chmod follows the link virtually (ENOENT), and a
# hard link to the link's target cannot be made.
out=$("$MOAT" run --rw "$WORK/w:/w" -- /bin/busybox sh -c \
	'chmod 777 /w/abs; chmod 777 /w/rel; ln /w/abs /w/hard; echo done' 2>&1)
check_eq "busybox chmod through planted links leaves the host file" 600 "$(stat -c %a "$CANARY")"
if [ -e "$WORK/w/hard" ] && [ "$(stat -c %i "$WORK/w/hard")" = "$(stat -c %i "$CANARY")" ]; then
	fail "hard link through a planted symlink" "the host file got a second name inside the mapping"
else
	pass "hard link through a planted symlink does not reach the host file"
fi
