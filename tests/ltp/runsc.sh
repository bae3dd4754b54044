#!/usr/bin/env bash
# runsc.sh CMD...: one LTP test under gVisor (Debian's runsc, its default
# ptrace platform), the peer yardstick of `make ltp`.  `runsc do` runs
# the command in a sandbox over the host's root (writes to a private
# overlay), with this environment and working directory.  As in
# runner.sh, a shell keeps the test from being the first process inside.
exec runsc --rootless --network=none do /bin/sh -c '"$@"; exit $?' sh "$@"
