/* The suites in the order they run, each with the table of its checks (kept
 * in the suite's own file, next to the code): what --list prints and where
 * the reporter finds a check's level (main hands the table to the run's
 * context, so reporting never reaches back into the suites). */
#include "conf.h"

static const conf_suite suites[] = {
    {"layout", suite_layout, "object keys for every prefix combination", suite_layout_checks},
    {"manifest", suite_manifest, "schema, Go-identical encoding, annotations, media types",
     suite_manifest_checks},
    {"modes", suite_modes, "mode=min / mode=max manifests against the graph goldens",
     suite_modes_checks},
    {"idempotence", suite_idempotence, "a re-export uploads nothing", suite_idempotence_checks},
    {"touch", suite_touch, "touch_refresh, self-copy with REPLACE, multipart copy",
     suite_touch_checks},
    {"ordering", suite_ordering, "manifest after blobs; a failed blob writes no manifest",
     suite_ordering_checks},
    {"import", suite_import, "goldens, rejections, missing manifest, first name only",
     suite_import_checks},
    {"integrity", suite_integrity, "corrupt, truncated and missing blobs", suite_integrity_checks},
    {"wire", suite_wire, "SigV4, path/virtual-host, no checksum trailers, Range resume",
     suite_wire_checks},
    {"faults", suite_faults, "SlowDown/500/reset retried; permanent failures reported",
     suite_faults_checks},
    {"credentials", suite_credentials, "static attributes, env chain, profile, session token",
     suite_credentials_checks},
    {"interop", suite_interop, "the exported bucket read with awscli", suite_interop_checks},
    {"verify", suite_verify, "post-hoc bucket checks over an export", suite_verify_checks},
};

const conf_suite *conf_suites(size_t *n)
{
    *n = sizeof suites / sizeof suites[0];
    return suites;
}
