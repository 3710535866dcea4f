/* The S3 error table: code -> HTTP status and S3's default message. */
#ifndef MS3_ERRORS_H
#define MS3_ERRORS_H

typedef struct ms3_s3error {
    const char *code;
    int status;
    const char *message;
} ms3_s3error;

/* The entry for code; an unknown code yields {code, 400, "Bad Request"}-like data
 * with the given code kept (status 400 when unknown). Never NULL. */
ms3_s3error ms3_error_lookup(const char *code);
int ms3_error_status(const char *code);
const char *ms3_error_message(const char *code);
/* A sensible error code for a bare status (fault rules that give only a status). */
const char *ms3_error_code_for_status(int status);
/* Reason phrase for a status line ("Service Unavailable"). */
const char *ms3_status_reason(int status);

#endif
