#!/usr/bin/env bash
# test_libos_layers.sh -- the LibOS's descriptor layer and its kinds of
# open file call one way: fs.c (paths) -> kinds.c (the kinds paths name)
# -> each kind -> fd.c (the descriptor table), and fd.c calls no kind.
. "$(dirname "$0")/lib.sh"

out=$(python3 "$ROOT/tests/libos_layers.py" "$BUILD/libos" "$ROOT/libos")
line() { echo "$out" | sed -n "s/^$1: //p"; }
check_eq "fd.o (the descriptor table) calls no kind, nor fs.o" "none of them" "$(line 'fd.o calls')"
check_eq "fs.o (paths) reaches the kinds only through the table in kinds.o" "fd kinds" "$(line 'fs.o calls')"
check_eq "uaccess.o (copies to and from the app) reads only the descriptor table" "fd" "$(line 'uaccess.o calls')"
check_eq "no call circle among fd.o, fs.o, kinds.o and the kinds ($(line kinds | wc -w) kinds)" "none" "$(line circles)"
check_eq "no kind calls back into kinds.o" "none" "$(line 'kinds calling kinds.o')"
check_eq "only sockets call fs.o (a bound name is a path)" "socket" "$(line 'kinds calling fs.o')"
# Headers: file.h includes only libos.h; no kind has a header of its own.
check_eq "file.h includes libos.h only" '#include "libos.h"' "$(grep '^#include' "$ROOT/libos/file.h")"
