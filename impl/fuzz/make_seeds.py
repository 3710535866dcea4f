#!/usr/bin/env python3
"""Regenerates the seed corpora in impl/fuzz/corpus/ and mock-s3/fuzz/corpus/
from the fixtures (SigV4 vectors, config goldens and rejects) plus small
hand-written inputs. Seeds are small on purpose: libFuzzer mutates them.

aws-chunked seeds are encoded here with the AWS documentation example keys
(fixtures/chunked/README.md) so the fuzz target's decoder verifies them and
mutations explore past the signature checks. Run from anywhere:
    impl/fuzz/make_seeds.py
"""
import base64
import glob
import hashlib
import hmac
import os
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "fixtures")


def out_dir(component, target):
    d = os.path.join(ROOT, component, "fuzz", "corpus", target)
    os.makedirs(d, exist_ok=True)
    return d


def write(component, target, name, data):
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(out_dir(component, target), name), "wb") as f:
        f.write(data)


# ---- sigv4_auth: byte 0 even = Authorization header, odd = presigned query
def sigv4():
    for p in sorted(glob.glob(os.path.join(FIX, "sigv4", "aws4_testsuite", "*", "*.authz")))[:12]:
        name = os.path.basename(p)[: -len(".authz")]
        write("impl", "sigv4_auth", "authz-" + name, b"\x00" + open(p, "rb").read().strip())
    qs = sorted(glob.glob(os.path.join(FIX, "sigv4", "aws-signing-test-suite", "v4", "*",
                                       "query-signed-request.txt")))[:8]
    for p in qs:
        line = open(p, "rb").read().split(b"\n", 1)[0]
        target = line.split(b" ")[1]
        query = target.split(b"?", 1)[1] if b"?" in target else b""
        write("impl", "sigv4_auth", "presigned-" + os.path.basename(os.path.dirname(p)),
              b"\x01" + query)
    write("impl", "sigv4_auth", "presigned-s3-doc",
          b"\x01X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524"
          b"%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&"
          b"X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c2"
          b"65957d157751f604d404")
    write("impl", "sigv4_auth", "authz-colon-key",
          b"\x00AWS4-HMAC-SHA256 Credential=gitlab:gitlab/20130524/us-east-1/s3/aws4_request,"
          b"SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature="
          + b"0" * 64)
    write("impl", "sigv4_auth", "authz-v2", b"\x00AWS AKIAIOSFODNN7EXAMPLE:frJIUN8DYpKDtOLCwo//yllqDzg=")


# ---- chunked
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AMZ_DATE = "20130524T000000Z"
SCOPE = "20130524/us-east-1/s3/aws4_request"
SEED_SIG = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
EMPTY = hashlib.sha256(b"").hexdigest()


def signing_key():
    k = ("AWS4" + SECRET).encode()
    for part in ("20130524", "us-east-1", "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def chunk_sig(key, prev, data):
    sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", AMZ_DATE, SCOPE, prev, EMPTY,
                     hashlib.sha256(data).hexdigest()])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def trailer_sig(key, prev, text):
    sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", AMZ_DATE, SCOPE, prev,
                     hashlib.sha256(text).hexdigest()])
    return hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def encode(mode, payload, chunk, with_crc):
    """mode 0 signed, 1 signed with trailer, 2 unsigned with trailer."""
    key = signing_key()
    out = b""
    prev = SEED_SIG
    pieces = [payload[i:i + chunk] for i in range(0, len(payload), chunk)] + [b""]
    for p in pieces:
        if mode == 2:
            out += b"%x\r\n" % len(p)
        else:
            prev = chunk_sig(key, prev, p)
            out += b"%x;chunk-signature=%s\r\n" % (len(p), prev.encode())
        if p:
            out += p + b"\r\n"
    if mode == 0:
        return out + b"\r\n"
    trailer = b""
    if with_crc:
        trailer = b"x-amz-checksum-crc32:" + crc32_b64(payload).encode()
    if mode == 2:
        return out + (trailer + b"\r\n" if trailer else b"") + b"\r\n"
    text = trailer + b"\n" if trailer else b""
    sig = trailer_sig(key, prev, text)
    return out + (trailer + b"\r\n" if trailer else b"") + \
        b"x-amz-trailer-signature:" + sig.encode() + b"\r\n\r\n"


def chunked():
    # header: byte0 = mode | small chunks (4) | trailer alg << 3 (CRC32 = 1);
    # byte1 = feed piece size - 1; byte2 = 0 (no decoded length)
    cases = [
        ("signed-empty", 0, b"", 16, False),
        ("signed-small", 0, b"hello, chunked world", 7, False),
        ("signed-trailer-crc32", 1, b"abcdefghijklmnopqrstuvwxyz" * 3, 32, True),
        ("signed-trailer-none", 1, b"0123456789", 4, False),
        ("unsigned-trailer-crc32", 2, b"a" * 100, 40, True),
        ("unsigned-trailer-none", 2, b"xyz" * 5, 5, False),
    ]
    for name, mode, payload, chunk, crc in cases:
        b0 = mode | 4 | ((1 if crc else 0) << 3)
        for piece in (0, 6, 255):
            write("impl", "chunked", "%s-p%d" % (name, piece + 1),
                  bytes([b0, piece, 0]) + encode(mode, payload, chunk, crc))


# ---- s3xml: byte 0 picks the parser (see fuzz_s3xml.c)
XML = {
    "error": (0, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code>"
                 "<Message>The specified key does not exist.</Message><Key>a&amp;b</Key>"
                 "<RequestId>4442587FB7D0A2F9</RequestId></Error>"),
    "error-redirect": (0, "<Error><Code>PermanentRedirect</Code><Message>m</Message>"
                          "<Region>eu-west-1</Region><Endpoint>x</Endpoint></Error>"),
    "root": (1, "<?xml version=\"1.0\"?><ListAllMyBucketsResult/>"),
    "list": (2, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3"
                ".amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>blobs/</Prefix><KeyCount>2"
                "</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><Contents><Key>"
                "blobs/sha256:ab</Key><LastModified>2009-10-12T17:50:30.000Z</LastModified><ETag>"
                "&quot;fba9dede5f27731c9771645a39863328&quot;</ETag><Size>434234</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents><Contents><Key><![CDATA[k<2>]]>"
                "</Key><Size>0</Size></Contents><CommonPrefixes><Prefix>p/</Prefix>"
                "</CommonPrefixes><NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbO"
                "wM=</NextContinuationToken></ListBucketResult>"),
    "initiate": (3, "<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>"
                    "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA</UploadId>"
                    "</InitiateMultipartUploadResult>"),
    "copy": (4, "<CopyObjectResult><LastModified>2009-10-28T22:32:00.000Z</LastModified><ETag>"
                "\"9b2cf535f27731c974343645a3985328\"</ETag></CopyObjectResult>"),
    "complete": (5, "<CompleteMultipartUploadResult><Location>l</Location><Bucket>b</Bucket>"
                    "<Key>k</Key><ETag>\"3858f62230ac3c915f300c664312c11f-9\"</ETag>"
                    "</CompleteMultipartUploadResult>"),
    "delete": (6, "<DeleteResult><Deleted><Key>a</Key></Deleted><Error><Key>b</Key><Code>"
                  "AccessDenied</Code><Message>Access Denied</Message></Error></DeleteResult>"),
    "date": (6, "Wed, 12 Oct 2009 17:50:00 GMT"),
    "entities": (0, "<!DOCTYPE e [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;&a;\">]>"
                    "<Error><Code>&b;</Code></Error>"),
}


def s3xml():
    for name, (sel, text) in XML.items():
        write("impl", "s3xml", name, bytes([sel]) + text.encode())


# ---- cacheconfig: the golden inputs and the rejects, small ones
def cacheconfig():
    for sub in ("golden", "reject"):
        for p in sorted(glob.glob(os.path.join(FIX, "config", sub, "*.json"))):
            data = open(p, "rb").read()
            if len(data) <= 4096:
                write("impl", "cacheconfig", sub + "-" + os.path.basename(p)[:-5], data)


# ---- cacheconfig, large: the shapes whose parse and marshal were quadratic
def _digest(text):
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _layer(i, parent):
    return {"blob": _digest("blob%d" % i), "parent": parent,
            "annotations": {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                            "diffID": _digest("diff%d" % i), "size": 10 + i,
                            "createdAt": "2024-05-01T12:00:00Z"}}


def _result(layer, t="2024-05-01T12:00:00Z"):
    return [{"layer": layer, "createdAt": t}]


def cacheconfig_large():
    import json
    shapes = {}
    # fan-out: many records on one root, all with the same layer
    shapes["fan-out"] = {"layers": [_layer(0, -1)], "records": [{"digest": _digest("root")}] + [
        {"layers": _result(0), "digest": _digest("r%d" % i), "inputs": [[{"link": 0}]]}
        for i in range(1, 400)]}
    # fan-in: one input with 2000 links to one record, by selector
    shapes["fan-in-selectors"] = {"layers": [_layer(0, -1)], "records": [
        {"digest": _digest("root")},
        {"layers": _result(0), "digest": _digest("top"),
         "inputs": [[{"selector": "/s%d" % i, "link": 0} for i in range(2000)]]}]}
    # fan-in: one input linking 600 roots
    shapes["fan-in-sources"] = {"layers": [_layer(0, -1)], "records": [
        {"digest": _digest("root%d" % i)} for i in range(600)] + [
        {"layers": _result(0), "digest": _digest("top"),
         "inputs": [[{"link": i} for i in range(600)]]}]}
    # a deep layer chain: record i adds layer i on top of layer i-1
    shapes["deep-chain"] = {"layers": [_layer(i, i - 1) for i in range(200)],
                            "records": [{"digest": _digest("root")}] + [
        {"layers": _result(i - 1), "digest": _digest("r%d" % i), "inputs": [[{"link": i - 1}]]}
        for i in range(1, 201)]}
    # copies of one record with their own result times: they merge
    shapes["duplicates"] = {"layers": [_layer(0, -1)], "records": [{"digest": _digest("root")}] + [
        {"layers": _result(0, "2024-05-01T12:00:00.%09dZ" % i), "digest": _digest("dup"),
         "inputs": [[{"link": 0}]]} for i in range(1, 400)]}
    # records of one digest sharing their first input, each its own second
    shapes["digest-variants"] = {"layers": [_layer(0, -1)], "records": [
        {"digest": _digest("root%d" % i)} for i in range(301)] + [
        {"layers": _result(0), "digest": _digest("same"), "inputs": [[{"link": 0}], [{"link": i}]]}
        for i in range(1, 301)]}
    for name, cfg in shapes.items():
        write("impl", "cacheconfig", "large-" + name, json.dumps(cfg, separators=(",", ":")))


# ---- chains: a program of adds (see fuzz_chains.c for the byte layout)
def _record(digest, deps, results):
    """deps: [[(src, selector)...]...]; results: [(created, [descriptor ids])]."""
    out = [digest | len(deps) << 3 | len(results) << 5]
    for links in deps:
        out.append(len(links))
        out += [src | sel << 5 for src, sel in links]
    for created, layers in results:
        out.append(len(layers) | created << 3)
        out += layers
    return bytes(out)


def chains():
    seeds = {}
    # a root, a chain on it, then the same records again (merged) with an
    # extra link back to a descendant (the loop BuildKit drops)
    prog = _record(0, [], [])
    prog += _record(1, [[(0, 0)]], [(0, [0, 1])])
    prog += _record(2, [[(1, 2)]], [(1, [0, 1, 2])])
    prog += _record(1, [[(0, 0), (2, 0)]], [(2, [0, 1])])
    prog += _record(3, [[(1, 0)], [(2, 3)]], [(0, [3])])
    seeds["merge-and-loop"] = b"\x01" + prog
    # one blob with two descriptors (0 and 5), one of them unavailable
    prog = _record(0, [], []) + _record(1, [[(0, 0)]], [(0, [0, 2])])
    prog += _record(2, [[(1, 0)]], [(1, [5, 2, 4])]) + _record(3, [[(2, 1)]], [(2, [0, 2, 4, 6])])
    seeds["conflicting-descriptors"] = b"\x03\x10" + prog
    # fan-out: 400 records on one root; fan-in: records of 3 inputs x 3 links
    seeds["fan-out"] = b"\x01" + _record(0, [], []) + b"".join(
        _record(1 + i % 6, [[(0, i % 4)]], [(i % 4, [i % 7])]) for i in range(400))
    prog = b"".join(_record(i % 7, [], []) for i in range(12))
    prog += b"".join(_record(i % 7, [[(i % 12, 0), ((i + 1) % 12, 1), ((i + 2) % 12, 2)]] * 3,
                             [(0, [1, 2])]) for i in range(200))
    seeds["fan-in"] = b"\x01" + prog
    # random: digests are skipped, an input without links is refused
    seeds["random-and-empty"] = b"\x00" + _record(7, [], []) + _record(0, [], []) + bytes(
        [1 | 1 << 3, 0]) + _record(7, [[(0, 0)]], [(0, [1])])
    for name, data in seeds.items():
        write("impl", "chains", name, data)


# ---- attrs: byte 0 = strict (1) | env set (2)
ATTRS = [
    "type=s3,bucket=b,region=us-east-1",
    "type=s3,region=r,bucket=b,name=a;b;c,mode=max,prefix=p/,manifests_prefix=m/,blobs_prefix=x/",
    "type=s3,bucket=b,region=r,endpoint_url=http://127.0.0.1:9000,use_path_style=true,"
    "access_key_id=AK,secret_access_key=SK,session_token=T",
    "type=s3,bucket=b,region=r,touch_refresh=1h30m,upload_parallelism=8,retry_max_attempts=5,"
    "retry_mode=adaptive,ignore-error=true,disable_accept_encoding=1",
    "\"type=s3\",\"bucket=a,b\",region=r,name=\"x,y\"",
    "type=s3,bucket=b,region=r,touch_refresh=bogus,use_path_style=maybe,mode=mid",
    "type=s3,unknown=1",
    "type=gha",
    "",
]


def attrs():
    for i, text in enumerate(ATTRS):
        write("impl", "attrs", "attrs-%02d" % i, bytes([i % 4]) + text.encode())


DURATIONS = ["24h", "1h30m", "1.5h", "300ms", "-1h", "0", "+5s", "1µs", "1μs", "2us", "3ns",
             "9223372036854775807ns", "2562047h47m16.854775807s", ".5s", "1.s", "", "1", "1d",
             "h", "-0", "1e3s"]


def go_duration():
    for i, text in enumerate(DURATIONS):
        write("impl", "go_duration", "duration-%02d" % i, text.encode())
    for i, text in enumerate(["true", "F", "TRUE", "yes", "-12", "+7", "2147483648", "0x10"]):
        write("impl", "go_duration", "other-%02d" % i, text.encode())


# ---- jsontree: any text; the graph fixtures plus the edges of JSON itself
JSON_EDGES = [
    '{}', '[]', '[null,true,false]', '{"a":1,"b":"x","a":2}',
    '[9223372036854775807,-9223372036854775808,9223372036854775808]',
    '[1e308,1e309,-0.0,0.5e-324,1E+2,1.0]', '["\\u00e9\\ud83d\\ude00\\n\\/"]',
    '["\\u0000"]', '["\\ud800"]', '"top"', '[1,]', '{"a" 1}', '[01]',
    '[' * 2048 + ']' * 2048, '[' * 2049 + ']' * 2049, '\ufeff[]', '[]  \n', '[] x',
]


def jsontree():
    for p in sorted(glob.glob(os.path.join(FIX, "graphs", "*.json"))):
        data = open(p, "rb").read()
        if len(data) <= 16384:
            write("impl", "jsontree", "graph-" + os.path.basename(p)[:-5], data)
    for i, text in enumerate(JSON_EDGES):
        write("impl", "jsontree", "edge-%02d" % i, text.encode())
    write("impl", "jsontree", "edge-bad-utf8", b'["\xc3\x28", "\xed\xa0\x80"]')


# ---- mock_route: byte 0 = method (0 GET 1 PUT 2 POST 3 DELETE 4 HEAD) | copy source (8);
# then target NUL host
ROUTES = [
    (0, "/", "127.0.0.1:9000"),
    (0, "/bucket?list-type=2&prefix=blobs%2F&max-keys=10", "127.0.0.1:9000"),
    (1, "/bucket/blobs/sha256:abc", "127.0.0.1:9000"),
    (1 | 8, "/bucket/dst?partNumber=1&uploadId=x", "127.0.0.1"),
    (2, "/bucket/k?uploads", "bucket.localhost:9000"),
    (2, "/bucket?delete", "localhost"),
    (3, "/bucket/k?uploadId=abc", "127.0.0.1"),
    (4, "/k%20with%2Fslash", "bucket.localhost"),
    (0, "/_mock/journal", "127.0.0.1"),
    (0, "/bucket/%ZZ", "127.0.0.1"),
    (0, "/Bad_Bucket/k", "127.0.0.1"),
]


def mock_route():
    for i, (b0, target, host) in enumerate(ROUTES):
        write("mock-s3", "mock_route", "route-%02d" % i,
              bytes([b0]) + target.encode() + b"\x00" + host.encode())


# ---- mock_request: byte 0 = mode (auth in bits 0-1, pieces bit 2, fault in
# bits 3-6, presign bit 7), byte 1 = piece size / cut point, then requests
# separated by "\n~~~\n" (see mock-s3/fuzz/fuzz_mock_request.c).
SEP = "\n~~~\n"


def req(method, target, headers=(), body=""):
    text = "%s %s\n" % (method, target)
    for name, value in headers:
        text += "%s: %s\n" % (name, value)
    return text + "\n" + body


def cl(body):
    """Content-Length of the body after the target's substitutions ("$L")."""
    del body
    return ("Content-Length", "$L")


UNSIGNED_TRAILER_BODY = ("b\r\nhello world\r\n0\r\n"
                         "x-amz-checksum-crc32:%s\r\n\r\n" % crc32_b64(b"hello world"))

DELETE_BODY = "<Delete><Object><Key>k1</Key></Object><Quiet>true</Quiet></Delete>"

STS_WEB_FORM = ("Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam"
                "%3A%3A111122223333%3Arole%2Ffuzz&RoleSessionName=fuzz&WebIdentityToken="
                "FuzzWebIdentityToken&DurationSeconds=900")
STS_ROLE_FORM = ("Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333"
                 "%3Arole%2Ffuzz&RoleSessionName=fuzz&ExternalId=ext")

MOCK_REQUESTS = {
    "put-get-head": [req("PUT", "/fuzz/blobs/a", [cl("blob-bytes")], "blob-bytes"),
                     req("GET", "/fuzz/blobs/a", [("Range", "bytes=2-5")]),
                     req("HEAD", "/fuzz/blobs/a"),
                     req("GET", "/fuzz/blobs/a", [("If-None-Match", "$E1")])],
    "list": [req("PUT", "/fuzz/manifests/x", [cl("{}")], "{}"),
             req("GET", "/fuzz?list-type=2&prefix=manifests%2F&max-keys=1&delimiter=%2F"),
             req("GET", "/fuzz?prefix=m&marker=a"),
             req("GET", "/"),
             req("GET", "/fuzz?location")],
    "multipart": [req("POST", "/fuzz/big?uploads"),
                  req("PUT", "/fuzz/big?partNumber=1&uploadId=$U", [cl("part-one")], "part-one"),
                  req("PUT", "/fuzz/big?partNumber=2&uploadId=$U", [cl("p2")], "p2"),
                  req("GET", "/fuzz/big?uploadId=$U"),
                  req("POST", "/fuzz/big?uploadId=$U",
                      [cl("<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>$E2"
                          "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>$E3</ETag>"
                          "</Part></CompleteMultipartUpload>")],
                      "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>$E2"
                      "</ETag></Part><Part><PartNumber>2</PartNumber><ETag>$E3</ETag>"
                      "</Part></CompleteMultipartUpload>"),
                  req("GET", "/fuzz?uploads")],
    "copy-touch": [req("PUT", "/fuzz/src", [cl("data"), ("x-amz-meta-a", "1")], "data"),
                   req("PUT", "/fuzz/src", [("x-amz-copy-source", "/fuzz/src"),
                                            ("x-amz-metadata-directive", "REPLACE"),
                                            ("x-amz-meta-touched", "now")]),
                   req("PUT", "/fuzz/dst", [("x-amz-copy-source", "fuzz/src"),
                                            ("x-amz-copy-source-if-match", "$E1")])],
    "delete": [req("PUT", "/fuzz/k1", [cl("1")], "1"),
               req("DELETE", "/fuzz/k1"),
               req("POST", "/fuzz?delete",
                   [cl(DELETE_BODY), ("Content-MD5", base64.b64encode(
                       hashlib.md5(DELETE_BODY.encode()).digest()).decode())],
                   "<Delete><Object><Key>k1</Key></Object><Quiet>true</Quiet></Delete>"),
               req("PUT", "/newbucket"),
               req("DELETE", "/newbucket")],
    "chunked-trailer": [req("PUT", "/fuzz/chunked",
                            [("x-amz-content-sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"),
                             ("Content-Encoding", "aws-chunked"),
                             ("x-amz-decoded-content-length", "11"),
                             ("x-amz-trailer", "x-amz-checksum-crc32"),
                             cl(UNSIGNED_TRAILER_BODY)], UNSIGNED_TRAILER_BODY)],
    "conditional": [req("PUT", "/fuzz/m", [("If-None-Match", "*"), cl("x")], "x"),
                    req("PUT", "/fuzz/m", [("If-None-Match", "*"), cl("y")], "y"),
                    req("PUT", "/fuzz/m", [("If-Match", "$E1"), cl("z")], "z")],
    "checksums": [req("PUT", "/fuzz/c", [("x-amz-checksum-sha256",
                                          base64.b64encode(hashlib.sha256(b"abc").digest())
                                          .decode()),
                                         ("Content-MD5", base64.b64encode(
                                             hashlib.md5(b"abc").digest()).decode()),
                                         cl("abc")], "abc")],
    # Admin POSTs carry application/json: the mock refuses any other type (a
    # web page could send it without a preflight), so without it these seeds
    # would only reach the refusal.
    "admin": [req("POST", "/_mock/faults", [cl('{"action":"error","status":503}'),
                                           ("Content-Type", "application/json")],
                  '{"action":"error","status":503}'),
              req("GET", "/fuzz/x"),
              req("GET", "/_mock/journal"),
              req("POST", "/_mock/reset", [("Content-Type", "application/json")]),
              req("POST", "/_mock/reset", [("Origin", "http://page.example")])],
    # STS on the S3 port: the target's server has it on and accepts the web
    # identity token FuzzWebIdentityToken.
    "sts": [req("POST", "/", [("Content-Type", "application/x-www-form-urlencoded"),
                              cl(STS_WEB_FORM)], STS_WEB_FORM),
            req("POST", "/", [("Content-Type", "application/x-www-form-urlencoded"),
                              cl(STS_ROLE_FORM)], STS_ROLE_FORM),
            req("POST", "/", [("Content-Type", "application/x-www-form-urlencoded"),
                              cl("Action=AssumeRole&Version=2011-06-15&DurationSeconds=1")],
                "Action=AssumeRole&Version=2011-06-15&DurationSeconds=1")],
    "errors": [req("GET", "/Bad_Bucket/k"),
               req("GET", "/fuzz/%ZZ"),
               req("PATCH", "/fuzz/k"),
               req("PUT", "/fuzz/k", [("Content-Length", "99999999999")], "short"),
               req("PUT", "/fuzz/k", [("Content-Length", "9")], "short"),
               req("PUT", "/fuzz/k", [("Content-Length", "1x")], "1")],
}

# (mode byte, parameter byte) per variant of every sequence.
MOCK_MODES = {
    "anon": (0, 0),
    "signed": (1, 0),
    "presigned": (1 | 0x80, 0),
    "wrongsig": (2, 0),
    "asgiven": (3, 0),
    "pieces": (1 | 4, 2),
    "slowdown": (1 | (1 << 3), 0),
    "cutreq": (1 | (4 << 3), 3),
    "cutresp": (1 | (3 << 3), 2),
}


def mock_request():
    for name, requests in MOCK_REQUESTS.items():
        body = SEP.join(requests).encode()
        for mode_name, (mode, param) in MOCK_MODES.items():
            if mode_name not in ("anon", "signed") and name not in (
                    "put-get-head", "multipart", "chunked-trailer"):
                continue
            write("mock-s3", "mock_request", "%s-%s" % (name, mode_name),
                  bytes([mode, param]) + body)


if __name__ == "__main__":
    sigv4()
    chunked()
    s3xml()
    cacheconfig()
    cacheconfig_large()
    chains()
    attrs()
    go_duration()
    jsontree()
    mock_route()
    mock_request()
