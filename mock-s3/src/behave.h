/* Behaviour presets (--behave NAME, ms3_options.behave): the stores people ask
 * about, each made of the bucket policies and proxy rewrites of policy.h. */
#ifndef MS3_BEHAVE_H
#define MS3_BEHAVE_H

#include "bkcache/error.h"
#include "policy.h"

/* Makes the presets named in `names` (comma-separated) every bucket's policy
 * and the proxy mode; NULL or "" changes nothing. */
bk_code ms3__behave_apply(ms3_policies *p, const char *names, bk_err *err);

#endif
