#!/usr/bin/env bash
# The smallest end-to-end check: a static program prints in a picoprocess.
. "$(dirname "$0")/lib.sh"
same_output "busybox echo" /bin/busybox echo hello world
