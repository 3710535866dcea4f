/* mock-s3: the standalone server. Prints one line when ready and runs until
 * SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mock_s3.h"

#define MAX_CREDS 16
#define MAX_BUCKETS 64

static void usage(FILE *out)
{
    fputs("usage: mock-s3 [options]\n"
          "An S3 server for tests: verifies SigV4, records every request, injects faults.\n"
          "\n"
          "  --listen HOST:PORT          address to listen on (default 127.0.0.1:0; port 0\n"
          "                              picks a free port, printed on the ready line)\n"
          "  --region REGION             region of the credential scope (default us-east-1)\n"
          "  --access-key ID             access key id; pair with --secret-key (repeatable)\n"
          "  --secret-key SECRET         secret of the preceding --access-key\n"
          "  --session-token TOKEN       session token of the preceding --access-key\n"
          "  --bucket NAME               create this bucket (repeatable)\n"
          "  --data-dir DIR              store objects and multipart uploads in progress\n"
          "                              under DIR (they survive restarts); default: memory\n"
          "  --journal FILE              append one JSON line per finished request\n"
          "  --anonymous                 also accept unsigned requests\n"
          "  --virtual-host-suffix S     virtual-host style as BUCKET.S (default localhost)\n"
          "  --clock-offset SECONDS      shift the mock's clock (Last-Modified, skew, expiry)\n"
          "  --min-part-size BYTES       smallest non-last multipart part (default 5242880)\n"
          "  --access-profile P          full, read-only or no-list, for every bucket\n"
          "  --help                      this text\n"
          "\n"
          "When ready it prints exactly one line, `mock-s3 listening on http://HOST:PORT`.\n"
          "Control endpoints live under /_mock/ (journal, faults, clock, age, reset,\n"
          "buckets, credentials, policy, proxy); see mock-s3/src/admin.c.\n",
          out);
}

static int parse_u64(const char *s, unsigned long long *out)
{
    char *end = NULL;
    if (s == NULL || *s == '\0' || *s == '-')
        return -1;
    *out = strtoull(s, &end, 10);
    return *end == '\0' ? 0 : -1;
}

int main(int argc, char **argv)
{
    ms3_options o;
    ms3_options_init(&o);
    const char *akids[MAX_CREDS] = {0}, *secrets[MAX_CREDS] = {0}, *tokens[MAX_CREDS] = {0};
    int n_akids = 0, n_secrets = 0;
    const char *buckets[MAX_BUCKETS];
    int n_buckets = 0;
    const char *profile = NULL;
    char host[256] = "127.0.0.1";

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        }
        if (strcmp(a, "--anonymous") == 0) {
            o.anonymous = 1;
            continue;
        }
        /* Every other option takes a value. */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            fprintf(stderr, "mock-s3: %s needs a value (see --help)\n", a);
            return 2;
        }
        if (strcmp(a, "--listen") == 0) {
            const char *colon = strrchr(v, ':');
            unsigned long long port = 0;
            if (colon == NULL || colon == v || (size_t)(colon - v) >= sizeof(host) ||
                parse_u64(colon + 1, &port) != 0 || port > 65535) {
                fprintf(stderr, "mock-s3: --listen wants HOST:PORT, got \"%s\"\n", v);
                return 2;
            }
            memcpy(host, v, (size_t)(colon - v));
            host[colon - v] = '\0';
            o.listen_host = host;
            o.port = (uint16_t)port;
        } else if (strcmp(a, "--region") == 0) {
            o.region = v;
        } else if (strcmp(a, "--access-key") == 0) {
            if (n_akids == MAX_CREDS) {
                fprintf(stderr, "mock-s3: at most %d credentials\n", MAX_CREDS);
                return 2;
            }
            akids[n_akids++] = v;
        } else if (strcmp(a, "--secret-key") == 0) {
            if (n_secrets >= n_akids) {
                fprintf(stderr, "mock-s3: --secret-key must follow its --access-key\n");
                return 2;
            }
            secrets[n_secrets++] = v;
        } else if (strcmp(a, "--session-token") == 0) {
            if (n_akids == 0) {
                fprintf(stderr, "mock-s3: --session-token must follow its --access-key\n");
                return 2;
            }
            tokens[n_akids - 1] = v;
        } else if (strcmp(a, "--bucket") == 0) {
            if (n_buckets == MAX_BUCKETS) {
                fprintf(stderr, "mock-s3: at most %d --bucket\n", MAX_BUCKETS);
                return 2;
            }
            buckets[n_buckets++] = v;
        } else if (strcmp(a, "--data-dir") == 0) {
            o.data_dir = v;
        } else if (strcmp(a, "--journal") == 0) {
            o.journal_file = v;
        } else if (strcmp(a, "--virtual-host-suffix") == 0) {
            o.virtual_host_suffix = v;
        } else if (strcmp(a, "--clock-offset") == 0) {
            char *end = NULL;
            o.clock_offset = strtoll(v, &end, 10);
            if (*v == '\0' || *end != '\0') {
                fprintf(stderr, "mock-s3: --clock-offset wants whole seconds, got \"%s\"\n", v);
                return 2;
            }
        } else if (strcmp(a, "--min-part-size") == 0) {
            unsigned long long n;
            if (parse_u64(v, &n) != 0 || n == 0) {
                fprintf(stderr, "mock-s3: --min-part-size wants a positive byte count\n");
                return 2;
            }
            o.min_part_size = n;
        } else if (strcmp(a, "--access-profile") == 0) {
            profile = v;
        } else {
            fprintf(stderr, "mock-s3: unknown option \"%s\" (see --help)\n", a);
            return 2;
        }
        i++;
    }
    if (n_secrets != n_akids) {
        fprintf(stderr, "mock-s3: every --access-key needs a --secret-key\n");
        return 2;
    }
    if (n_akids == 0 && !o.anonymous)
        fprintf(stderr, "mock-s3: no credentials given: every request will be refused "
                        "(use --access-key/--secret-key or --anonymous)\n");

    /* Signals are taken by sigwait below; block them before any server thread exists. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    bk_err err;
    ms3_server *s = ms3_server_start(&o, &err);
    if (s == NULL) {
        fprintf(stderr, "mock-s3: %s\n", err.msg);
        return 1;
    }
    for (int i = 0; i < n_akids; i++) {
        if (ms3_server_add_credentials(s, akids[i], secrets[i], tokens[i], &err) != 0) {
            fprintf(stderr, "mock-s3: %s\n", err.msg);
            ms3_server_stop(s);
            return 2;
        }
    }
    for (int i = 0; i < n_buckets; i++) {
        if (ms3_server_create_bucket(s, buckets[i], &err) != 0) {
            fprintf(stderr, "mock-s3: --bucket %s: %s\n", buckets[i], err.msg);
            ms3_server_stop(s);
            return 2;
        }
    }
    if (profile != NULL) {
        ms3_bucket_policy p;
        memset(&p, 0, sizeof(p));
        if (ms3_access_profile_parse(profile, &p.access) != 0 ||
            ms3_server_set_bucket_policy(s, NULL, &p, &err) != 0) {
            fprintf(stderr, "mock-s3: --access-profile must be full, read-only or no-list\n");
            ms3_server_stop(s);
            return 2;
        }
    }
    printf("mock-s3 listening on %s\n", ms3_server_url(s));
    fflush(stdout);

    int sig = 0;
    sigwait(&set, &sig);
    ms3_server_stop(s);
    return 0;
}
