/* The verifying aws-chunked decoder: a resumable state machine that takes the
 * wire body in pieces split anywhere, hands payload to a sink and answers
 * every malformed stream with the error S3 gives for it. All state is fixed
 * size; lines are bounded, sizes are overflow-checked.
 *
 * Error choices (ground truth recorded by versitygw against AWS where known):
 * framing that cannot be parsed or ends early -> IncompleteBody; chunk or
 * trailer signature -> SignatureDoesNotMatch (403); a trailer line that is
 * malformed, unexpected, or missing in the unsigned mode ->
 * MalformedTrailerError; the checksum value not valid base64 of the right
 * length -> InvalidRequest; checksum mismatch -> BadDigest; decoded size
 * different from x-amz-decoded-content-length, or bytes after the end ->
 * IncompleteBody with the Content-Length message; a non-last chunk under
 * 8192 bytes -> InvalidChunkSizeError. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "bkcache/chunked.h"
#include "bkcache/sigv4.h"
#include "chunked_internal.h"

#define MSG_TRUNCATED "The request body terminated unexpectedly"
#define MSG_LENGTH                                                                                 \
    "You did not provide the number of bytes specified by the Content-Length HTTP header"
#define MSG_SIGNATURE                                                                              \
    "The request signature we calculated does not match the signature you provided. Check "        \
    "your key and signing method."
#define MSG_TRAILER                                                                                \
    "The request contained trailing data that was not well-formed or did not conform to our "      \
    "published schema."
#define MSG_CHUNK_SIZE "Only the last chunk is allowed to have a size less than 8192 bytes"
#define MSG_INTERNAL "We encountered an internal error. Please try again."

enum dec_state { D_SIZE_LINE, D_DATA, D_DATA_CR, D_DATA_LF, D_TRAILER_LINE, D_DONE, D_FAILED };

/* NOLINTNEXTLINE(clang-analyzer-optin.performance.Padding): grouped by stage, one per stream */
struct bk_chunked_decoder {
    bk_chunked_mode mode;
    bk_checksum_alg trailer_alg;
    int64_t decoded_length;
    int allow_small_chunks;
    bk_chunked_sink_fn sink;
    void *sink_ud;
    chunked_chain chain;
    bk_checksum *chunk_hash; /* signed modes */
    bk_checksum *trailer_ck; /* when a trailer checksum is expected */

    enum dec_state state;
    uint64_t offset;  /* wire bytes consumed */
    uint64_t decoded; /* payload bytes passed on */
    char line[BK_CHUNKED_MAX_LINE];
    size_t line_len;

    unsigned long chunks_seen; /* size lines parsed */
    uint64_t chunk_size, chunk_left;
    char chunk_sig[CHUNKED_SIG_HEX + 1];
    uint64_t prev_data_size;
    int have_prev_data;

    unsigned trailer_lines;
    int have_checksum_line;
    char checksum_value[BK_CHECKSUM_MAX_BASE64];
    int have_trailer_sig;
    char trailer_sig[CHUNKED_SIG_HEX + 1];
    bk_checksum_digest digest;
    int have_digest;

    bk_chunked_error error;
    bk_err failure;
};

bk_chunked_decoder *bk_chunked_decoder_new(const bk_chunked_decoder_config *cfg, bk_err *err)
{
    static const char who[] = "aws-chunked decoder";
    if (cfg == NULL || bk_chunked_mode_payload_hash(cfg->mode) == NULL) {
        bk_err_set(err, BK_EINVAL, "%s: unknown mode", who);
        return NULL;
    }
    if (cfg->trailer_alg != BK_CHECKSUM_NONE && bk_checksum_header_name(cfg->trailer_alg) == NULL) {
        bk_err_set(err, BK_EINVAL, "%s: %d is not an x-amz-checksum algorithm", who,
                   (int)cfg->trailer_alg);
        return NULL;
    }
    bk_chunked_decoder *d = calloc(1, sizeof *d);
    if (d == NULL) {
        bk_err_set(err, BK_ENOMEM, "%s: out of memory", who);
        return NULL;
    }
    d->mode = cfg->mode;
    /* The signed mode has no trailer section, so nothing can be checked. */
    d->trailer_alg = cfg->mode == BK_CHUNKED_SIGNED ? BK_CHECKSUM_NONE : cfg->trailer_alg;
    d->decoded_length = cfg->decoded_length;
    d->allow_small_chunks = cfg->allow_small_chunks;
    d->sink = cfg->sink;
    d->sink_ud = cfg->sink_ud;
    d->state = D_SIZE_LINE;
    if (bk_chunked_mode_is_signed(cfg->mode)) {
        if (bk__chunked_chain_init(&d->chain, &cfg->signing, who, err) != BK_OK)
            goto fail;
        if ((d->chunk_hash = bk_checksum_new(BK_CHECKSUM_SHA256, err)) == NULL)
            goto fail;
    }
    if (d->trailer_alg != BK_CHECKSUM_NONE &&
        (d->trailer_ck = bk_checksum_new(d->trailer_alg, err)) == NULL)
        goto fail;
    return d;
fail:
    bk_chunked_decoder_free(d);
    return NULL;
}

void bk_chunked_decoder_free(bk_chunked_decoder *d)
{
    if (d == NULL)
        return;
    bk_checksum_free(d->chunk_hash);
    bk_checksum_free(d->trailer_ck);
    memset(&d->chain, 0, sizeof d->chain); /* the signing key */
    free(d);
}

const bk_chunked_error *bk_chunked_decoder_error(const bk_chunked_decoder *d)
{
    return &d->error;
}

uint64_t bk_chunked_decoder_decoded_bytes(const bk_chunked_decoder *d)
{
    return d->decoded;
}

const bk_checksum_digest *bk_chunked_decoder_checksum(const bk_chunked_decoder *d)
{
    return d->state == D_DONE && d->have_digest ? &d->digest : NULL;
}

int bk_chunked_decoder_done(const bk_chunked_decoder *d)
{
    return d->state == D_DONE;
}

/* Records the first failure; code is what feed/finish return from now on. */
static bk_code fail(bk_chunked_decoder *d, bk_code code, const char *s3_code, int status,
                    const char *s3_message, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static bk_code fail(bk_chunked_decoder *d, bk_code code, const char *s3_code, int status,
                    const char *s3_message, const char *fmt, ...)
{
    bk_chunked_error *e = &d->error;
    e->s3_code = s3_code;
    e->http_status = status;
    snprintf(e->s3_message, sizeof e->s3_message, "%s", s3_message);
    e->offset = d->offset;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->detail, sizeof e->detail, fmt, ap);
    va_end(ap);
    d->state = D_FAILED;
    bk_err_set(&d->failure, code, "aws-chunked body, byte %" PRIu64 ": %s: %s", e->offset, s3_code,
               e->detail);
    return code;
}

static bk_code truncated(bk_chunked_decoder *d, const char *what)
{
    return fail(d, BK_EPROTO, "IncompleteBody", 400, MSG_TRUNCATED, "%s", what);
}

static bk_code malformed_trailer(bk_chunked_decoder *d, const char *what)
{
    return fail(d, BK_EPROTO, "MalformedTrailerError", 400, MSG_TRAILER, "%s", what);
}

static bk_code signature_mismatch(bk_chunked_decoder *d, const char *what, const char *sts,
                                  const char *provided)
{
    snprintf(d->error.string_to_sign, sizeof d->error.string_to_sign, "%s", sts);
    snprintf(d->error.signature_provided, sizeof d->error.signature_provided, "%s", provided);
    return fail(d, BK_EAUTH, "SignatureDoesNotMatch", 403, MSG_SIGNATURE, "%s", what);
}

/* Verifies the signature given for the chunk just completed (its payload hash
 * is in d->chunk_hash) and advances the chain. */
static bk_code verify_chunk(bk_chunked_decoder *d)
{
    bk_checksum_digest h;
    bk_err err = {0};
    if (bk_checksum_final(d->chunk_hash, &h, &err) != BK_OK ||
        bk_checksum_reset(d->chunk_hash, &err) != BK_OK)
        return fail(d, err.code, "InternalError", 500, MSG_INTERNAL, "%s", err.msg);
    char expected[65];
    bk_sigv4_chunk_signature(d->chain.key, d->chain.amz_date, d->chain.scope,
                             d->chain.prev_signature, h.raw, expected);
    if (!bk_sigv4_equal(expected, d->chunk_sig)) {
        char sts[512];
        snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256-PAYLOAD\n%s\n%s\n%s\n%s\n%s", d->chain.amz_date,
                 d->chain.scope, d->chain.prev_signature, BK_SIGV4_EMPTY_SHA256, h.hex);
        char what[160];
        snprintf(what, sizeof what, "chunk %lu (%" PRIu64 " bytes): wrong chunk-signature",
                 d->chunks_seen, d->chunk_size);
        return signature_mismatch(d, what, sts, d->chunk_sig);
    }
    memcpy(d->chain.prev_signature, expected, sizeof expected);
    return BK_OK;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bk_code check_length_at_end(bk_chunked_decoder *d)
{
    if (d->decoded_length >= 0 && d->decoded != (uint64_t)d->decoded_length)
        return fail(d, BK_EINTEGRITY, "IncompleteBody", 400, MSG_LENGTH,
                    "decoded %" PRIu64 " bytes, x-amz-decoded-content-length says %" PRId64,
                    d->decoded, d->decoded_length);
    return BK_OK;
}

/* "<hex>[;chunk-signature=<64 hex>]", CRLF already removed. */
static bk_code size_line(bk_chunked_decoder *d, const char *line, size_t len)
{
    size_t i = 0;
    uint64_t size = 0;
    for (; i < len && hex_value(line[i]) >= 0; i++) {
        if (size > (UINT64_MAX >> 4))
            return truncated(d, "chunk size overflows 64 bits");
        size = size << 4 | (uint64_t)hex_value(line[i]);
    }
    if (i == 0)
        return truncated(d, "chunk size line does not start with a hexadecimal size");
    if (bk_chunked_mode_is_signed(d->mode)) {
        size_t ext = strlen(CHUNKED_SIG_EXT);
        if (len - i != ext + CHUNKED_SIG_HEX || memcmp(line + i, CHUNKED_SIG_EXT, ext) != 0)
            return truncated(d, "chunk size line is not <hex>;chunk-signature=<64 hex digits>");
        memcpy(d->chunk_sig, line + i + ext, CHUNKED_SIG_HEX);
        d->chunk_sig[CHUNKED_SIG_HEX] = '\0';
    } else if (i != len) {
        return truncated(d, "chunk size line has something after the hexadecimal size");
    }
    d->chunks_seen++;
    if (size > 0 && d->have_prev_data && d->prev_data_size < BK_CHUNKED_MIN_CHUNK &&
        !d->allow_small_chunks) {
        d->error.chunk_number = d->chunks_seen;
        d->error.bad_chunk_size = d->prev_data_size;
        return fail(d, BK_EPROTO, "InvalidChunkSizeError", 400, MSG_CHUNK_SIZE,
                    "chunk %lu follows a chunk of only %" PRIu64 " bytes", d->chunks_seen,
                    d->prev_data_size);
    }
    if (d->decoded_length >= 0 && size > (uint64_t)d->decoded_length - d->decoded)
        return fail(d, BK_EINTEGRITY, "IncompleteBody", 400, MSG_LENGTH,
                    "chunk %lu of %" PRIu64 " bytes runs past x-amz-decoded-content-length %" PRId64
                    " (%" PRIu64 " bytes already)",
                    d->chunks_seen, size, d->decoded_length, d->decoded);
    if (size > UINT64_MAX - d->decoded)
        return truncated(d, "total payload size overflows 64 bits");
    d->chunk_size = d->chunk_left = size;
    if (size > 0) {
        d->state = D_DATA;
        return BK_OK;
    }
    /* The final chunk: its signature covers the empty payload. */
    if (bk_chunked_mode_is_signed(d->mode)) {
        bk_code rc = verify_chunk(d);
        if (rc != BK_OK)
            return rc;
    }
    bk_code rc = check_length_at_end(d);
    if (rc != BK_OK)
        return rc;
    d->state = D_TRAILER_LINE;
    return BK_OK;
}

static int is_token_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static bk_code verify_trailer_signature(bk_chunked_decoder *d)
{
    char canonical[128] = "";
    size_t canonical_len = 0;
    if (d->have_checksum_line) {
        canonical_len = bk__chunked_canonical_trailer(d->trailer_alg, d->checksum_value, canonical,
                                                      sizeof canonical);
        if (canonical_len == 0)
            return malformed_trailer(d, "trailer does not fit");
    }
    char expected[65];
    bk_sigv4_trailer_signature(d->chain.key, d->chain.amz_date, d->chain.scope,
                               d->chain.prev_signature, canonical, canonical_len, expected);
    if (!bk_sigv4_equal(expected, d->trailer_sig)) {
        char hash[65], sts[512];
        bk_sigv4_sha256_hex(canonical, canonical_len, hash);
        snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256-TRAILER\n%s\n%s\n%s\n%s", d->chain.amz_date,
                 d->chain.scope, d->chain.prev_signature, hash);
        return signature_mismatch(d, "wrong x-amz-trailer-signature", sts, d->trailer_sig);
    }
    return BK_OK;
}

/* The empty line that ends the trailer section: check what it held. */
static bk_code end_of_trailer(bk_chunked_decoder *d)
{
    if (d->mode == BK_CHUNKED_SIGNED_TRAILER) {
        if (!d->have_trailer_sig)
            return truncated(d, d->trailer_lines == 0
                                    ? "the trailer is missing after the final chunk"
                                    : "the trailer has no x-amz-trailer-signature line");
    }
    if (d->trailer_alg != BK_CHECKSUM_NONE && !d->have_checksum_line) {
        char what[128];
        snprintf(what, sizeof what, "x-amz-trailer announced %s but the trailer lacks it",
                 bk_checksum_header_name(d->trailer_alg));
        return malformed_trailer(d, what);
    }
    if (d->mode == BK_CHUNKED_SIGNED_TRAILER) {
        bk_code rc = verify_trailer_signature(d);
        if (rc != BK_OK)
            return rc;
    }
    if (d->trailer_ck != NULL) {
        bk_err err = {0};
        if (bk_checksum_final(d->trailer_ck, &d->digest, &err) != BK_OK)
            return fail(d, err.code, "InternalError", 500, MSG_INTERNAL, "%s", err.msg);
        if (strcmp(d->digest.base64, d->checksum_value) != 0) {
            char msg[128];
            snprintf(msg, sizeof msg, "The %s you specified did not match the calculated checksum.",
                     bk_checksum_alg_name(d->trailer_alg));
            return fail(
                d, BK_EINTEGRITY, "BadDigest", 400, msg, "%s: trailer says %s, payload has %s",
                bk_checksum_header_name(d->trailer_alg), d->checksum_value, d->digest.base64);
        }
        d->have_digest = 1;
    }
    d->state = D_DONE;
    return BK_OK;
}

static bk_code trailer_line(bk_chunked_decoder *d, const char *line, size_t len)
{
    if (len == 0)
        return end_of_trailer(d);
    if (d->mode == BK_CHUNKED_SIGNED)
        return truncated(d, "data after the final chunk (this mode has no trailer)");
    if (++d->trailer_lines > BK_CHUNKED_MAX_TRAILER_LINES)
        return malformed_trailer(d, "too many trailer lines");
    if (d->have_trailer_sig)
        return malformed_trailer(d, "a trailer line follows x-amz-trailer-signature");
    const char *colon = memchr(line, ':', len);
    if (colon == NULL || colon == line)
        return malformed_trailer(d, "trailer line is not <name>:<value>");
    size_t name_len = (size_t)(colon - line);
    for (size_t i = 0; i < name_len; i++)
        if (!is_token_char(line[i]))
            return malformed_trailer(d, "trailer name has a character not allowed in a header");
    const char *value = colon + 1;
    size_t value_len = len - name_len - 1;
    while (value_len > 0 && (*value == ' ' || *value == '\t')) {
        value++;
        value_len--;
    }
    while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t'))
        value_len--;

    size_t sig_name_len = strlen(CHUNKED_TRAILER_SIG_NAME);
    if (name_len == sig_name_len && strncasecmp(line, CHUNKED_TRAILER_SIG_NAME, name_len) == 0) {
        if (d->mode != BK_CHUNKED_SIGNED_TRAILER)
            return malformed_trailer(d, "x-amz-trailer-signature in an unsigned trailer");
        if (value_len != CHUNKED_SIG_HEX)
            return truncated(d, "x-amz-trailer-signature is not 64 hex digits");
        memcpy(d->trailer_sig, value, CHUNKED_SIG_HEX);
        d->trailer_sig[CHUNKED_SIG_HEX] = '\0';
        d->have_trailer_sig = 1;
        return BK_OK;
    }
    const char *want = bk_checksum_header_name(d->trailer_alg);
    if (want == NULL || name_len != strlen(want) || strncasecmp(line, want, name_len) != 0) {
        char what[200];
        snprintf(what, sizeof what, "trailer \"%.*s\" is not the one x-amz-trailer announced (%s)",
                 (int)(name_len > 64 ? 64 : name_len), line, want ? want : "none");
        return malformed_trailer(d, what);
    }
    if (d->have_checksum_line)
        return malformed_trailer(d, "the checksum trailer appears twice");
    if (!bk_checksum_value_valid(d->trailer_alg, value, value_len)) {
        char msg[128];
        snprintf(msg, sizeof msg, "Value for %s trailing header is invalid.", want);
        return fail(d, BK_EPROTO, "InvalidRequest", 400, msg,
                    "%s value is not base64 of a %zu-byte digest", want,
                    bk_checksum_digest_len(d->trailer_alg));
    }
    memcpy(d->checksum_value, value, value_len);
    d->checksum_value[value_len] = '\0';
    d->have_checksum_line = 1;
    return BK_OK;
}

/* A complete line ending in '\n' is in d->line. */
static bk_code line_done(bk_chunked_decoder *d)
{
    size_t len = d->line_len;
    d->line_len = 0;
    if (len < 2 || d->line[len - 2] != '\r')
        return truncated(d, "line ends in LF without CR");
    len -= 2;
    if (d->state == D_SIZE_LINE)
        return size_line(d, d->line, len);
    return trailer_line(d, d->line, len);
}

static bk_code take_data(bk_chunked_decoder *d, const unsigned char *p, size_t n)
{
    if (d->chunk_hash != NULL)
        bk_checksum_update(d->chunk_hash, p, n);
    if (d->trailer_ck != NULL)
        bk_checksum_update(d->trailer_ck, p, n);
    if (d->sink != NULL) {
        bk_err err = {0};
        bk_code rc = d->sink(d->sink_ud, p, n, &err);
        if (rc != BK_OK)
            return fail(d, rc, "InternalError", 500, MSG_INTERNAL, "storing the payload: %s",
                        err.msg);
    }
    d->decoded += n;
    d->chunk_left -= n;
    if (d->chunk_left == 0)
        d->state = D_DATA_CR;
    return BK_OK;
}

static bk_code sticky(bk_chunked_decoder *d, bk_err *err)
{
    return bk_err_set(err, d->failure.code, "%s", d->failure.msg);
}

bk_code bk_chunked_decoder_feed(bk_chunked_decoder *d, const void *data, size_t len, bk_err *err)
{
    const unsigned char *p = data;
    size_t i = 0;
    bk_code rc = BK_OK;
    if (d->state == D_FAILED)
        return sticky(d, err);
    while (i < len && rc == BK_OK) {
        switch (d->state) {
        case D_FAILED:
            return sticky(d, err);
        case D_DONE:
            rc = fail(d, BK_EPROTO, "IncompleteBody", 400, MSG_LENGTH,
                      "%zu bytes follow the end of the aws-chunked body", len - i);
            break;
        case D_DATA: {
            size_t n = len - i;
            if (n > d->chunk_left)
                n = (size_t)d->chunk_left;
            rc = take_data(d, p + i, n);
            i += n;
            d->offset += n;
            break;
        }
        case D_DATA_CR:
        case D_DATA_LF: {
            unsigned char want = d->state == D_DATA_CR ? '\r' : '\n';
            if (p[i] != want) {
                char what[160];
                snprintf(what, sizeof what,
                         "chunk %lu is longer than its declared %" PRIu64
                         " bytes (no CRLF after it)",
                         d->chunks_seen, d->chunk_size);
                rc = truncated(d, what);
                break;
            }
            i++;
            d->offset++;
            if (d->state == D_DATA_CR) {
                d->state = D_DATA_LF;
                break;
            }
            d->prev_data_size = d->chunk_size;
            d->have_prev_data = 1;
            d->state = D_SIZE_LINE;
            if (bk_chunked_mode_is_signed(d->mode))
                rc = verify_chunk(d);
            break;
        }
        case D_SIZE_LINE:
        case D_TRAILER_LINE: {
            if (d->line_len == sizeof d->line) {
                rc = d->state == D_SIZE_LINE ? truncated(d, "chunk size line is too long")
                                             : malformed_trailer(d, "trailer line is too long");
                break;
            }
            char c = (char)p[i++];
            d->offset++;
            d->line[d->line_len++] = c;
            if (c == '\n')
                rc = line_done(d);
            break;
        }
        }
    }
    if (rc != BK_OK)
        return sticky(d, err);
    return BK_OK;
}

bk_code bk_chunked_decoder_finish(bk_chunked_decoder *d, bk_err *err)
{
    char what[200];
    switch (d->state) {
    case D_DONE:
        return BK_OK;
    case D_FAILED:
        return sticky(d, err);
    case D_DATA:
        snprintf(what, sizeof what,
                 "body ended inside chunk %lu after %" PRIu64 " of its %" PRIu64 " bytes",
                 d->chunks_seen, d->chunk_size - d->chunk_left, d->chunk_size);
        break;
    case D_DATA_CR:
    case D_DATA_LF:
        snprintf(what, sizeof what, "body ended before the CRLF after chunk %lu", d->chunks_seen);
        break;
    case D_SIZE_LINE:
        snprintf(what, sizeof what, "body ended before the final 0-byte chunk (%lu chunks seen)",
                 d->chunks_seen);
        break;
    case D_TRAILER_LINE:
        snprintf(what, sizeof what, "body ended inside the trailer after the final chunk");
        break;
    }
    truncated(d, what);
    return sticky(d, err);
}
