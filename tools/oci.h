/*
 * oci.h -- moat as an OCI runtime (tools/oci.c): the runc command line
 * that podman (conmon), containerd (the runc shim's BinaryName) and
 * dockerd (--add-runtime) use.  docs/oci.md is the reference.
 */
#ifndef MOAT_OCI_H
#define MOAT_OCI_H

/* 1 if argv is a runc-style call (a global --root/--log/...; create,
 * start, state, delete, features, exec, spec; kill or ps of a container
 * under the default root or with runc's flags; run with --bundle). */
int moat_oci_claims(int argc, char **argv);
/* Run it; the result is the exit status. */
int moat_cmd_oci(int argc, char **argv);

#endif /* MOAT_OCI_H */
