"""Round trips through an S3 endpoint with Debian's boto3, an S3 client nobody on
this project wrote. Usage: boto3_roundtrip.py ENDPOINT BUCKET
Credentials come from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. With
--expect-auth-failure the first request must be refused (wrong secret).
Prints one line per check and exits non-zero on the first failure."""
import hashlib
import sys
import urllib.request

import boto3
import botocore.config
import botocore.exceptions


def check(cond, what):
    if not cond:
        print(f"FAIL {what}")
        sys.exit(1)
    print(f"ok {what}")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    expect_auth_failure = "--expect-auth-failure" in sys.argv
    endpoint, bucket = args
    # boto3 1.26 presigns with SigV2 unless told otherwise; S3 (and the mock) want SigV4.
    cfg = botocore.config.Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                 retries={"max_attempts": 1})
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=cfg)

    if expect_auth_failure:
        try:
            s3.put_object(Bucket=bucket, Key="denied", Body=b"x")
        except botocore.exceptions.ClientError as e:
            code = e.response["Error"]["Code"]
            check(code == "SignatureDoesNotMatch", f"wrong secret refused ({code})")
            return
        check(False, "wrong secret refused")

    body = bytes(range(256)) * 1024  # 256 KiB
    key = "blobs/sha256:" + hashlib.sha256(body).hexdigest()
    r = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"origin": "boto3"})
    check(r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest(), "put_object ETag is the body MD5")

    h = s3.head_object(Bucket=bucket, Key=key)
    check(h["ContentLength"] == len(body), "head_object size")
    check(h["Metadata"].get("origin") == "boto3", "head_object metadata")

    g = s3.get_object(Bucket=bucket, Key=key, Range="bytes=1000-1999")
    part = g["Body"].read()
    check(part == body[1000:2000], "get_object range bytes")
    check(g["ContentRange"] == f"bytes 1000-1999/{len(body)}", "get_object Content-Range")

    c = s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key},
                       MetadataDirective="REPLACE", Metadata={"updated-at": "now"})
    check("CopyObjectResult" in c, "copy_object onto itself with REPLACE")
    h2 = s3.head_object(Bucket=bucket, Key=key)
    check(h2["Metadata"] == {"updated-at": "now"}, "metadata replaced by the copy")

    try:
        s3.copy_object(Bucket=bucket, Key=key, CopySource={"Bucket": bucket, "Key": key})
        check(False, "copy onto itself without REPLACE refused")
    except botocore.exceptions.ClientError as e:
        check(e.response["Error"]["Code"] == "InvalidRequest", "copy onto itself without REPLACE refused")

    mp_key = "multipart object"
    part_size = 5 * 1024 * 1024
    data = hashlib.sha256(b"seed").digest() * (part_size // 32 + 100)
    up = s3.create_multipart_upload(Bucket=bucket, Key=mp_key)
    parts = []
    for n, off in enumerate(range(0, len(data), part_size), start=1):
        p = s3.upload_part(Bucket=bucket, Key=mp_key, UploadId=up["UploadId"], PartNumber=n,
                           Body=data[off:off + part_size])
        parts.append({"PartNumber": n, "ETag": p["ETag"]})
    done = s3.complete_multipart_upload(Bucket=bucket, Key=mp_key, UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": parts})
    check(done["ETag"].endswith('-%d"' % len(parts)), "multipart ETag has the part count")
    got = s3.get_object(Bucket=bucket, Key=mp_key)["Body"].read()
    check(got == data, "multipart object reads back byte-equal")

    lst = s3.list_objects_v2(Bucket=bucket, Prefix="blobs/")
    check([o["Key"] for o in lst.get("Contents", [])] == [key], "list_objects_v2 with prefix")

    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300)
    with urllib.request.urlopen(url) as resp:
        check(resp.read() == body, "presigned GET fetched without credentials")

    s3.delete_object(Bucket=bucket, Key=key)
    try:
        s3.head_object(Bucket=bucket, Key=key)
        check(False, "deleted object is gone")
    except botocore.exceptions.ClientError as e:
        check(e.response["Error"]["Code"] in ("404", "NoSuchKey"), "deleted object is gone")
    print("boto3: all checks passed")


if __name__ == "__main__":
    main()
