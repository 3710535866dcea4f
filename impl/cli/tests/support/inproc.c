#include "inproc.h"

#include <stdio.h>

ms3_server *bk_inproc_mock_start(const char *bucket, const char *ak, const char *sk,
                                 const char *extra, char *attrs, size_t size)
{
    bk_err err;
    ms3_options o;
    ms3_options_init(&o);
    ms3_server *mock = ms3_server_start(&o, &err);
    if (mock == NULL || ms3_server_add_credentials(mock, ak, sk, NULL, &err) != 0 ||
        ms3_server_create_bucket(mock, bucket, &err) != 0) {
        fprintf(stderr, "in-process mock: %s\n", err.msg);
        if (mock != NULL)
            ms3_server_stop(mock);
        return NULL;
    }
    snprintf(attrs, size,
             "type=s3,bucket=%s,region=us-east-1,endpoint_url=%s,use_path_style=true,"
             "access_key_id=%s,secret_access_key=%s%s%s",
             bucket, ms3_server_url(mock), ak, sk, extra ? "," : "", extra ? extra : "");
    return mock;
}
