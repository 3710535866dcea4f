/* The S3 error table (code -> HTTP status and S3's default message), and how
 * the mock passes bk_err on. */
#ifndef MS3_ERRORS_H
#define MS3_ERRORS_H

#include "bkcache/error.h"

typedef struct ms3_s3error {
    const char *code;
    int status;
    const char *message;
} ms3_s3error;

/* The entry for code; an unknown code yields {code, 400, "Bad Request"}-like data
 * with the given code kept (status 400 when unknown). Never NULL. */
ms3_s3error ms3__error_lookup(const char *code);
int ms3__error_status(const char *code);
const char *ms3__error_message(const char *code);
/* A sensible error code for a bare status (fault rules that give only a status). */
const char *ms3__error_code_for_status(int status);
/* Reason phrase for a status line ("Service Unavailable"). */
const char *ms3__status_reason(int status);

/* The mock's error idiom: a bk_err may always be NULL, a failing function
 * returns the bk_code it set, and nothing reads err->code back. A caller that
 * must pass on the error of a callee returning NULL gives it a local bk_err
 * and passes that on to its own err with this; returns the code. */
bk_code ms3__err_pass(bk_err *err, const bk_err *from);

#endif
