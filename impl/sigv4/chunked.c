/* aws-chunked: mode names, the encoded-length formula and the encoder. The
 * decoder is in chunked_decode.c. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bkcache/chunked.h"
#include "bkcache/sigv4.h"
#include "chunked_internal.h"

const char *bk_chunked_mode_payload_hash(bk_chunked_mode mode)
{
    switch (mode) {
    case BK_CHUNKED_SIGNED:
        return BK_SIGV4_STREAMING_PAYLOAD;
    case BK_CHUNKED_SIGNED_TRAILER:
        return BK_SIGV4_STREAMING_PAYLOAD_TRAILER;
    case BK_CHUNKED_UNSIGNED_TRAILER:
        return BK_SIGV4_STREAMING_UNSIGNED_TRAILER;
    }
    return NULL;
}

int bk_chunked_mode_from_payload_hash(const char *value, bk_chunked_mode *out)
{
    static const bk_chunked_mode modes[] = {BK_CHUNKED_SIGNED, BK_CHUNKED_SIGNED_TRAILER,
                                            BK_CHUNKED_UNSIGNED_TRAILER};
    if (value == NULL)
        return 0;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        if (strcmp(value, bk_chunked_mode_payload_hash(modes[i])) == 0) {
            if (out)
                *out = modes[i];
            return 1;
        }
    }
    return 0;
}

int bk_chunked_mode_is_signed(bk_chunked_mode mode)
{
    return mode == BK_CHUNKED_SIGNED || mode == BK_CHUNKED_SIGNED_TRAILER;
}

int bk__chunked_is_sig_hex(const char *s, size_t len)
{
    if (s == NULL || len != CHUNKED_SIG_HEX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

bk_code bk__chunked_chain_init(chunked_chain *chain, const bk_chunked_signing *s, const char *who,
                               bk_err *err)
{
    memset(chain, 0, sizeof *chain);
    if (s->key == NULL)
        return bk_err_set(err, BK_EINVAL, "%s: a signed mode needs the signing key", who);
    if (s->amz_date == NULL || s->amz_date[0] == '\0' ||
        strlen(s->amz_date) >= sizeof chain->amz_date)
        return bk_err_set(err, BK_EINVAL, "%s: a signed mode needs amz_date (YYYYMMDDTHHMMSSZ)",
                          who);
    if (s->scope == NULL || s->scope[0] == '\0' || strlen(s->scope) >= sizeof chain->scope)
        return bk_err_set(
            err, BK_EINVAL,
            "%s: a signed mode needs the scope <date8>/<region>/<service>/aws4_request", who);
    if (s->seed_signature == NULL ||
        !bk__chunked_is_sig_hex(s->seed_signature, strlen(s->seed_signature)))
        return bk_err_set(err, BK_EINVAL, "%s: the seed signature must be 64 lowercase hex digits",
                          who);
    memcpy(chain->key, s->key, sizeof chain->key);
    snprintf(chain->amz_date, sizeof chain->amz_date, "%s", s->amz_date);
    snprintf(chain->scope, sizeof chain->scope, "%s", s->scope);
    snprintf(chain->prev_signature, sizeof chain->prev_signature, "%s", s->seed_signature);
    return BK_OK;
}

size_t bk__chunked_canonical_trailer(bk_checksum_alg alg, const char *value, char *out,
                                     size_t out_size)
{
    const char *name = bk_checksum_header_name(alg);
    if (name == NULL) {
        if (out_size > 0)
            out[0] = '\0';
        return 0;
    }
    int n = snprintf(out, out_size, "%s:%s\n", name, value);
    return n > 0 && (size_t)n < out_size ? (size_t)n : 0;
}

/* ---- encoded length ---- */

static unsigned hex_digits(uint64_t v)
{
    unsigned n = 1;
    while (v >>= 4)
        n++;
    return n;
}

/* The size line and CRLFs around one chunk of size bytes (data excluded). */
static uint64_t chunk_overhead(bk_chunked_mode mode, uint64_t size)
{
    uint64_t n = hex_digits(size) + 2; /* "<hex>\r\n" */
    if (bk_chunked_mode_is_signed(mode))
        n += strlen(CHUNKED_SIG_EXT) + CHUNKED_SIG_HEX;
    if (size > 0)
        n += 2; /* CRLF after the data */
    return n;
}

static uint64_t trailer_length(bk_chunked_mode mode, bk_checksum_alg alg)
{
    uint64_t n = 0;
    if (alg != BK_CHECKSUM_NONE) {
        size_t digest = bk_checksum_digest_len(alg);
        n += strlen(bk_checksum_header_name(alg)) + 1 + (digest + 2) / 3 * 4 + 2;
    }
    if (mode == BK_CHUNKED_SIGNED_TRAILER)
        n += strlen(CHUNKED_TRAILER_SIG_NAME) + 1 + CHUNKED_SIG_HEX + 2;
    return n + 2; /* the empty line that ends the body */
}

static int config_alg_ok(bk_chunked_mode mode, bk_checksum_alg alg)
{
    if (alg == BK_CHECKSUM_NONE)
        return 1;
    return mode != BK_CHUNKED_SIGNED && bk_checksum_header_name(alg) != NULL;
}

uint64_t bk_chunked_encoded_length(bk_chunked_mode mode, size_t chunk_size,
                                   bk_checksum_alg trailer_alg, uint64_t decoded_length)
{
    if (bk_chunked_mode_payload_hash(mode) == NULL || chunk_size == 0 ||
        !config_alg_ok(mode, trailer_alg))
        return 0;
    uint64_t full = decoded_length / chunk_size;
    uint64_t rest = decoded_length % chunk_size;
    uint64_t n = decoded_length + full * chunk_overhead(mode, chunk_size);
    if (rest > 0)
        n += chunk_overhead(mode, rest);
    n += chunk_overhead(mode, 0);
    return n + trailer_length(mode, trailer_alg);
}

/* ---- encoder ---- */

/* Longest text emitted at once: the final chunk line plus the trailer. */
#define ENC_TEXT_MAX 512

enum enc_state { ENC_FILL, ENC_EMIT, ENC_DONE, ENC_FAILED };

struct bk_chunked_encoder {
    bk_chunked_mode mode;
    size_t chunk_size;
    bk_checksum_alg trailer_alg;
    int64_t decoded_length;
    bk_chunked_source_fn source;
    void *source_ud;
    chunked_chain chain;
    bk_checksum *chunk_hash; /* SHA-256 of the current chunk, signed modes */
    bk_checksum *trailer_ck; /* whole payload, when there is a trailer checksum */
    bk_checksum_digest digest;
    int have_digest;

    enum enc_state state;
    int source_ended;
    int final_queued;
    uint64_t taken; /* payload bytes read from the source */

    unsigned char *chunk; /* chunk_size bytes */
    size_t chunk_len;
    /* Pending output: head text, then chunk data, then tail text. */
    char head[ENC_TEXT_MAX];
    size_t head_len, head_pos;
    size_t data_pos;
    char tail[4];
    size_t tail_len, tail_pos;

    bk_err failure; /* repeated on every call after a failure */
};

bk_chunked_encoder *bk_chunked_encoder_new(const bk_chunked_encoder_config *cfg, bk_err *err)
{
    static const char who[] = "aws-chunked encoder";
    if (cfg == NULL || bk_chunked_mode_payload_hash(cfg->mode) == NULL) {
        bk_err_set(err, BK_EINVAL, "%s: unknown mode", who);
        return NULL;
    }
    if (cfg->chunk_size == 0 || cfg->source == NULL) {
        bk_err_set(err, BK_EINVAL, "%s: chunk_size and source are required", who);
        return NULL;
    }
    if (!config_alg_ok(cfg->mode, cfg->trailer_alg)) {
        bk_err_set(err, BK_EINVAL, "%s: %s cannot carry a trailer checksum (algorithm %d)", who,
                   bk_chunked_mode_payload_hash(cfg->mode), (int)cfg->trailer_alg);
        return NULL;
    }
    bk_chunked_encoder *enc = calloc(1, sizeof *enc);
    if (enc == NULL) {
        bk_err_set(err, BK_ENOMEM, "%s: out of memory", who);
        return NULL;
    }
    enc->mode = cfg->mode;
    enc->chunk_size = cfg->chunk_size;
    enc->trailer_alg = cfg->trailer_alg;
    enc->decoded_length = cfg->decoded_length;
    enc->source = cfg->source;
    enc->source_ud = cfg->source_ud;
    enc->state = ENC_FILL;
    if (bk_chunked_mode_is_signed(cfg->mode)) {
        if (bk__chunked_chain_init(&enc->chain, &cfg->signing, who, err) != BK_OK)
            goto fail;
        if ((enc->chunk_hash = bk_checksum_new(BK_CHECKSUM_SHA256, err)) == NULL)
            goto fail;
    }
    if (cfg->trailer_alg != BK_CHECKSUM_NONE &&
        (enc->trailer_ck = bk_checksum_new(cfg->trailer_alg, err)) == NULL)
        goto fail;
    enc->chunk = malloc(cfg->chunk_size);
    if (enc->chunk == NULL) {
        bk_err_set(err, BK_ENOMEM, "%s: cannot allocate a %zu-byte chunk buffer", who,
                   cfg->chunk_size);
        goto fail;
    }
    return enc;
fail:
    bk_chunked_encoder_free(enc);
    return NULL;
}

void bk_chunked_encoder_free(bk_chunked_encoder *enc)
{
    if (enc == NULL)
        return;
    bk_checksum_free(enc->chunk_hash);
    bk_checksum_free(enc->trailer_ck);
    free(enc->chunk);
    /* The signing key is a secret: do not leave it in freed memory. */
    memset(&enc->chain, 0, sizeof enc->chain);
    free(enc);
}

const bk_checksum_digest *bk_chunked_encoder_checksum(const bk_chunked_encoder *enc)
{
    return enc->have_digest ? &enc->digest : NULL;
}

static bk_code enc_fail(bk_chunked_encoder *enc, bk_err *err, bk_code code, const char *msg)
{
    enc->state = ENC_FAILED;
    bk_err_set(&enc->failure, code, "aws-chunked encoder: %s", msg);
    return bk_err_set(err, code, "%s", enc->failure.msg);
}

/* Signature of the chunk whose payload hash is in enc->chunk_hash; chains. */
static bk_code enc_sign_chunk(bk_chunked_encoder *enc, char sig[65], bk_err *err)
{
    bk_checksum_digest h;
    bk_code rc = bk_checksum_final(enc->chunk_hash, &h, err);
    if (rc == BK_OK)
        rc = bk_checksum_reset(enc->chunk_hash, err);
    if (rc != BK_OK)
        return rc;
    bk_sigv4_chunk_signature(enc->chain.key, enc->chain.amz_date, enc->chain.scope,
                             enc->chain.prev_signature, h.raw, sig);
    memcpy(enc->chain.prev_signature, sig, 65);
    return BK_OK;
}

/* Appends printf text to the head buffer; the sizes are fixed and known to
 * fit, so overflowing is a programming error reported as EINVAL. */
static int head_printf(bk_chunked_encoder *enc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int head_printf(bk_chunked_encoder *enc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = sizeof enc->head - enc->head_len;
    int n = vsnprintf(enc->head + enc->head_len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room)
        return -1;
    enc->head_len += (size_t)n;
    return 0;
}

static bk_code enc_queue_chunk(bk_chunked_encoder *enc, bk_err *err)
{
    enc->head_len = enc->head_pos = enc->data_pos = enc->tail_pos = 0;
    enc->tail_len = 0;
    int bad = 0;
    if (bk_chunked_mode_is_signed(enc->mode)) {
        char sig[65];
        bk_checksum_update(enc->chunk_hash, enc->chunk, enc->chunk_len);
        bk_code rc = enc_sign_chunk(enc, sig, err);
        if (rc != BK_OK)
            return enc_fail(enc, err, rc, "cannot hash a chunk");
        bad |= head_printf(enc, "%zx" CHUNKED_SIG_EXT "%s\r\n", enc->chunk_len, sig);
    } else {
        bad |= head_printf(enc, "%zx\r\n", enc->chunk_len);
    }
    if (bad)
        return enc_fail(enc, err, BK_EINVAL, "chunk header does not fit");
    memcpy(enc->tail, "\r\n", 2);
    enc->tail_len = 2;
    enc->state = ENC_EMIT;
    return BK_OK;
}

static bk_code enc_queue_final(bk_chunked_encoder *enc, bk_err *err)
{
    enc->head_len = enc->head_pos = enc->data_pos = enc->tail_pos = 0;
    enc->tail_len = 0;
    enc->chunk_len = 0;
    int bad = 0;
    if (bk_chunked_mode_is_signed(enc->mode)) {
        char sig[65];
        bk_code rc = enc_sign_chunk(enc, sig, err);
        if (rc != BK_OK)
            return enc_fail(enc, err, rc, "cannot hash the final chunk");
        bad |= head_printf(enc, "0" CHUNKED_SIG_EXT "%s\r\n", sig);
    } else {
        bad |= head_printf(enc, "0\r\n");
    }
    char canonical[128] = "";
    size_t canonical_len = 0;
    if (enc->trailer_ck != NULL) {
        bk_code rc = bk_checksum_final(enc->trailer_ck, &enc->digest, err);
        if (rc != BK_OK)
            return enc_fail(enc, err, rc, "cannot finish the checksum");
        enc->have_digest = 1;
        canonical_len = bk__chunked_canonical_trailer(enc->trailer_alg, enc->digest.base64,
                                                      canonical, sizeof canonical);
        /* The wire line is the canonical line with CRLF instead of LF. */
        bad |= canonical_len == 0;
        bad |= head_printf(enc, "%.*s\r\n", (int)canonical_len - 1, canonical);
    }
    if (enc->mode == BK_CHUNKED_SIGNED_TRAILER) {
        char sig[65];
        bk_sigv4_trailer_signature(enc->chain.key, enc->chain.amz_date, enc->chain.scope,
                                   enc->chain.prev_signature, canonical, canonical_len, sig);
        bad |= head_printf(enc, CHUNKED_TRAILER_SIG_NAME ":%s\r\n", sig);
    }
    bad |= head_printf(enc, "\r\n");
    if (bad)
        return enc_fail(enc, err, BK_EINVAL, "final chunk and trailer do not fit");
    enc->final_queued = 1;
    enc->state = ENC_EMIT;
    return BK_OK;
}

/* Reads from the source until the chunk is full or the payload ends. */
static bk_code enc_fill(bk_chunked_encoder *enc, bk_err *err)
{
    enc->chunk_len = 0;
    while (!enc->source_ended && enc->chunk_len < enc->chunk_size) {
        size_t got = 0;
        size_t want = enc->chunk_size - enc->chunk_len;
        bk_code rc = enc->source(enc->source_ud, enc->chunk + enc->chunk_len, want, &got, err);
        if (rc != BK_OK) {
            enc->state = ENC_FAILED;
            bk_err_set(&enc->failure, rc, "aws-chunked encoder: source failed: %s",
                       err ? err->msg : "");
            return rc;
        }
        if (got > want)
            return enc_fail(enc, err, BK_EINVAL, "source returned more than asked for");
        if (got == 0) {
            enc->source_ended = 1;
            break;
        }
        if (enc->trailer_ck != NULL)
            bk_checksum_update(enc->trailer_ck, enc->chunk + enc->chunk_len, got);
        enc->chunk_len += got;
        enc->taken += got;
        if (enc->decoded_length >= 0 && enc->taken > (uint64_t)enc->decoded_length) {
            char msg[160];
            snprintf(msg, sizeof msg, "payload is longer than the declared %" PRId64 " bytes",
                     enc->decoded_length);
            return enc_fail(enc, err, BK_EINVAL, msg);
        }
    }
    if (enc->source_ended && enc->decoded_length >= 0 &&
        enc->taken != (uint64_t)enc->decoded_length) {
        char msg[160];
        snprintf(msg, sizeof msg,
                 "payload ended after %" PRIu64 " of the declared %" PRId64 " bytes", enc->taken,
                 enc->decoded_length);
        return enc_fail(enc, err, BK_EINVAL, msg);
    }
    if (enc->chunk_len > 0)
        return enc_queue_chunk(enc, err);
    return enc_queue_final(enc, err);
}

static size_t copy_part(unsigned char **out, size_t *room, const void *src, size_t len, size_t *pos)
{
    size_t n = len - *pos;
    if (n > *room)
        n = *room;
    memcpy(*out, (const unsigned char *)src + *pos, n);
    *out += n;
    *room -= n;
    *pos += n;
    return n;
}

bk_code bk_chunked_encoder_read(bk_chunked_encoder *enc, void *out, size_t cap, size_t *produced,
                                bk_err *err)
{
    unsigned char *o = out;
    size_t room = cap;
    *produced = 0;
    while (room > 0) {
        if (enc->state == ENC_FAILED)
            return bk_err_set(err, enc->failure.code, "%s", enc->failure.msg);
        if (enc->state == ENC_DONE)
            break;
        if (enc->state == ENC_FILL) {
            bk_code rc = enc_fill(enc, err);
            if (rc != BK_OK)
                return rc;
            continue;
        }
        copy_part(&o, &room, enc->head, enc->head_len, &enc->head_pos);
        copy_part(&o, &room, enc->chunk, enc->chunk_len, &enc->data_pos);
        copy_part(&o, &room, enc->tail, enc->tail_len, &enc->tail_pos);
        if (enc->head_pos == enc->head_len && enc->data_pos == enc->chunk_len &&
            enc->tail_pos == enc->tail_len)
            enc->state = enc->final_queued ? ENC_DONE : ENC_FILL;
    }
    *produced = cap - room;
    return BK_OK;
}
