/* Per-bucket behaviour switches (access profile, object-lock style Content-MD5
 * requirement, aws-chunked refusal, ...) and the server's proxy mode. */
#ifndef MS3_POLICY_H
#define MS3_POLICY_H

#include "bkcache/error.h"
#include "mock_s3.h"

typedef struct ms3_policies ms3_policies;

ms3_policies *ms3__policies_new(void);
void ms3__policies_free(ms3_policies *p);
/* bucket NULL: sets the default and overrides every bucket-specific entry. */
bk_code ms3__policies_set(ms3_policies *p, const char *bucket, const ms3_bucket_policy *bp,
                          bk_err *err);
void ms3__policies_get(ms3_policies *p, const char *bucket, ms3_bucket_policy *out);
void ms3__policies_set_proxy(ms3_policies *p, unsigned flags);
unsigned ms3__policies_proxy(ms3_policies *p);
/* The stricter of two profiles (read-only and no-list combine to both). */
typedef struct ms3_access {
    int read_only;
    int no_list;
} ms3_access;
ms3_access ms3__access_of(ms3_access_profile a, ms3_access_profile b);

#endif
