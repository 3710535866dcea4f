/* bkcache explain: helpers every renderer uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bkcache/gojson.h"
#include "explain_internal.h"

size_t bk__explain_chain(const bk_cache_config *cfg, int64_t top, int64_t *out, int *broken)
{
    *broken = 0;
    size_t n = 0;
    int64_t at = top;
    /* Walk top -> base, at most n_layers steps: a longer walk is a loop. */
    while (at >= 0) {
        if ((uint64_t)at >= cfg->n_layers || n == cfg->n_layers) {
            *broken = 1;
            break;
        }
        int looped = 0;
        for (size_t i = 0; i < n && !looped; i++)
            looped = out[i] == at;
        if (looped) {
            *broken = 1;
            break;
        }
        out[n++] = at;
        at = cfg->layers[at].parent;
    }
    for (size_t i = 0; i < n / 2; i++) { /* base first */
        int64_t t = out[i];
        out[i] = out[n - 1 - i];
        out[n - 1 - i] = t;
    }
    return n;
}

const bk_cache_result *bk__explain_newest_result(const bk_cache_record *r)
{
    const bk_cache_result *best = NULL;
    for (size_t i = 0; i < r->n_results; i++)
        if (best == NULL || bk_time_compare(r->results[i].created_at, best->created_at) > 0)
            best = &r->results[i];
    return best;
}

void bk__explain_format_unix(int64_t t, char *out, size_t size)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (gmtime_r(&tt, &tm) == NULL || strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(out, size, "@%lld", (long long)t);
}

void bk__explain_format_time(bk_time t, char *out, size_t size)
{
    bk_buf b = BK_BUF_INIT;
    if (bk_time_format(&b, t, NULL) == BK_OK && b.data != NULL)
        snprintf(out, size, "%s", b.data);
    else
        snprintf(out, size, "(time out of range)");
    bk_buf_clear(&b);
}

void bk_explain_format_age(int64_t now, int64_t then, char *out, size_t size)
{
    int64_t d = now - then;
    if (d < 0)
        snprintf(out, size, "in the future");
    else if (d < 60)
        snprintf(out, size, "<1m");
    else if (d < 3600)
        snprintf(out, size, "%lldm", (long long)(d / 60));
    else if (d < 86400)
        snprintf(out, size, "%lldh", (long long)(d / 3600));
    else
        snprintf(out, size, "%lldd", (long long)(d / 86400));
}

void bk_explain_short_digest(const char *digest, int full, char *out, size_t size)
{
    if (digest == NULL) {
        snprintf(out, size, "(none)");
        return;
    }
    const char *colon = strchr(digest, ':');
    if (full || colon == NULL || strlen(colon + 1) <= 12)
        snprintf(out, size, "%s", digest);
    else
        snprintf(out, size, "%.*s", (int)(colon - digest) + 1 + 12, digest);
}

const char *bk__explain_media_short(const char *media_type, char *buf, size_t size)
{
    static const char *const prefixes[] = {
        "application/vnd.oci.image.layer.v1.",
        "application/vnd.docker.image.rootfs.diff.",
    };
    if (media_type == NULL || *media_type == '\0')
        return "(no media type)";
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(media_type, prefixes[i], n) == 0) {
            snprintf(buf, size, "%s%s", i == 0 ? "" : "docker ", media_type + n);
            return buf;
        }
    }
    return media_type;
}
