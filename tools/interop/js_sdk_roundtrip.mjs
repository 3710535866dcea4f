// Round trips through an S3 endpoint with the AWS JavaScript SDK v3, an S3
// client nobody on this project wrote.
// Usage: node js_sdk_roundtrip.mjs ENDPOINT BUCKET [--checksums=default|off] [--expect-auth-failure]
// Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY.
// --checksums=default keeps the SDK's default integrity protection: a streamed
// PutObject body goes out as aws-chunked with STREAMING-UNSIGNED-PAYLOAD-TRAILER
// and an x-amz-checksum-crc32 trailer. --checksums=off sets WHEN_REQUIRED.
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import {
  S3Client, PutObjectCommand, GetObjectCommand, HeadObjectCommand, CopyObjectCommand,
  ListObjectsV2Command, CreateMultipartUploadCommand, UploadPartCommand,
  CompleteMultipartUploadCommand, DeleteObjectCommand,
} from "@aws-sdk/client-s3";

const args = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const flags = process.argv.slice(2).filter((a) => a.startsWith("--"));
const [endpoint, bucket] = args;
const checksums = (flags.find((f) => f.startsWith("--checksums=")) || "--checksums=default").split("=")[1];
const expectAuthFailure = flags.includes("--expect-auth-failure");

function check(cond, what) {
  if (!cond) {
    console.log(`FAIL ${what}`);
    process.exit(1);
  }
  console.log(`ok ${what}`);
}

const opts = { endpoint, region: "us-east-1", forcePathStyle: true, maxAttempts: 1 };
if (checksums === "off") {
  opts.requestChecksumCalculation = "WHEN_REQUIRED";
  opts.responseChecksumValidation = "WHEN_REQUIRED";
}
const s3 = new S3Client(opts);

async function bodyBytes(out) {
  return Buffer.from(await out.Body.transformToByteArray());
}

async function main() {
  if (expectAuthFailure) {
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: "denied", Body: Buffer.from("x") }));
    } catch (e) {
      check(e.name === "SignatureDoesNotMatch", `wrong secret refused (${e.name})`);
      return;
    }
    check(false, "wrong secret refused");
  }

  const body = Buffer.alloc(300 * 1024);
  for (let i = 0; i < body.length; i++) body[i] = (i * 7 + 3) & 0xff;
  const digest = createHash("sha256").update(body).digest("hex");
  const key = `blobs/sha256:${digest}`;

  // A stream of unknown length is what makes the SDK use aws-chunked with a trailer.
  const streamed = Readable.from([body.subarray(0, 100000), body.subarray(100000)]);
  await s3.send(new PutObjectCommand({
    Bucket: bucket, Key: key, Body: streamed, ContentLength: body.length,
    Metadata: { origin: "js-sdk" },
  }));
  const got = await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key })));
  check(got.equals(body), `streamed put_object stored the payload, not the framing (checksums=${checksums})`);

  const bufKey = "plain buffer.bin";
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: bufKey, Body: body }));
  const got2 = await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: bufKey })));
  check(got2.equals(body), "buffer put_object round trip");

  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  check(head.ContentLength === body.length, "head_object size");
  check(head.Metadata && head.Metadata.origin === "js-sdk", "head_object metadata");

  const ranged = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, Range: "bytes=-100" }));
  check((await bodyBytes(ranged)).equals(body.subarray(body.length - 100)), "suffix range get");

  await s3.send(new CopyObjectCommand({
    Bucket: bucket, Key: key, CopySource: `${bucket}/${key}`,
    MetadataDirective: "REPLACE", Metadata: { "updated-at": "now" },
  }));
  const head2 = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
  check(head2.Metadata["updated-at"] === "now", "copy onto itself with REPLACE");

  const partSize = 5 * 1024 * 1024;
  const data = Buffer.alloc(partSize + 12345, 0x5a);
  const mpKey = "multipart/js";
  // With default checksums the parts carry CRC32, so the upload must be created
  // with that algorithm (as @aws-sdk/lib-storage does): S3 answers InvalidPart at
  // Complete when parts carry a checksum the upload was not created with.
  const createArgs = { Bucket: bucket, Key: mpKey };
  if (checksums !== "off") createArgs.ChecksumAlgorithm = "CRC32";
  const up = await s3.send(new CreateMultipartUploadCommand(createArgs));
  const parts = [];
  for (let n = 1, off = 0; off < data.length; n++, off += partSize) {
    const p = await s3.send(new UploadPartCommand({
      Bucket: bucket, Key: mpKey, UploadId: up.UploadId, PartNumber: n,
      Body: data.subarray(off, off + partSize),
    }));
    parts.push({ PartNumber: n, ETag: p.ETag, ChecksumCRC32: p.ChecksumCRC32 });
  }
  await s3.send(new CompleteMultipartUploadCommand({
    Bucket: bucket, Key: mpKey, UploadId: up.UploadId, MultipartUpload: { Parts: parts },
  }));
  const mp = await bodyBytes(await s3.send(new GetObjectCommand({ Bucket: bucket, Key: mpKey })));
  check(mp.equals(data), "multipart round trip");

  const list = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "blobs/" }));
  check(list.KeyCount === 1 && list.Contents[0].Key === key, "list_objects_v2 with prefix");

  for (const k of [key, bufKey, mpKey]) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
  console.log(`js-sdk (checksums=${checksums}): all checks passed`);
}

main().catch((e) => {
  console.log(`FAIL ${e.name}: ${e.message}`);
  process.exit(1);
});
