/* The mock S3 inside the test process, for tests whose client is a bkcache
 * child: one credential, one bucket, and the attribute string to reach it. */
#ifndef BK_TEST_INPROC_H
#define BK_TEST_INPROC_H

#include <stddef.h>

#include "mock_s3.h"

/* Starts the mock on 127.0.0.1:0 with credential AK/SK and BUCKET; fills
 * attrs with "type=s3,bucket=BUCKET,region=us-east-1,endpoint_url=...,
 * use_path_style=true,access_key_id=AK,secret_access_key=SK" followed by
 * ",EXTRA" when extra is not NULL. NULL (nothing left running) on failure;
 * stop it with ms3_server_stop. */
ms3_server *bk_inproc_mock_start(const char *bucket, const char *ak, const char *sk,
                                 const char *extra, char *attrs, size_t size);

#endif
