#!/usr/bin/env node
// s3rver behind a SigV4 judge.
//
// s3rver accepts any SigV4 signature (its source says the V4 calculation is
// unimplemented), so on its own it cannot tell a correct client from a broken
// one. This front recomputes every header signature with the AWS JavaScript
// SDK's own signer (@smithy/signature-v4) from the same canonical inputs the
// client claims to have signed, and answers 403 SignatureDoesNotMatch when the
// two disagree. It also refuses requests that carry an x-amz-* header the
// client did not sign, and hex payload hashes that do not match the body.
// Only then is the request forwarded, unchanged, to s3rver.
//
// Usage: node --openssl-legacy-provider s3rver-judge.js [--bucket NAME]...
//   (s3rver encrypts ListObjectsV2 continuation tokens with DES, which
//   OpenSSL 3 only offers through its legacy provider; without the flag every
//   truncated listing would answer 500, so the judge refuses to start.)
//   Environment: BK_JUDGE_ACCESS_KEY_ID, BK_JUDGE_SECRET_ACCESS_KEY,
//   BK_JUDGE_SESSION_TOKEN (optional), BK_JUDGE_REGION (default us-east-1).
//   Defaults for the keys: s3rver's own S3RVER / S3RVER.
// Prints the judge's port on one line once both servers listen, then runs
// until stdin closes or SIGTERM/SIGINT. Binds 127.0.0.1 only, ports chosen by
// the kernel. GET /__judge/stats answers counters as JSON (not forwarded):
// verified, refused, forwarded, ops (S3 operation name -> count of verified
// requests), answers ("<operation> <status>" -> count of s3rver's answers)
// and the first refusals with their reasons.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');

const S3rver = require('s3rver');
const { DUMMY_ACCOUNT } = require('s3rver/lib/models/account');
const { SignatureV4, ALWAYS_UNSIGNABLE_HEADERS } = require('@smithy/signature-v4');
const { Sha256 } = require('@aws-crypto/sha256-js');

const accessKeyId = process.env.BK_JUDGE_ACCESS_KEY_ID || 'S3RVER';
const secretAccessKey = process.env.BK_JUDGE_SECRET_ACCESS_KEY || 'S3RVER';
const sessionToken = process.env.BK_JUDGE_SESSION_TOKEN || undefined;
const region = process.env.BK_JUDGE_REGION || 'us-east-1';

const buckets = [];
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--bucket' && i + 1 < process.argv.length) {
    buckets.push(process.argv[++i]);
  } else {
    process.stderr.write(`s3rver-judge: unknown argument ${process.argv[i]}\n`);
    process.exit(2);
  }
}
if (buckets.length === 0) buckets.push('bkcache-test');

try {
  crypto.createCipheriv('des', Buffer.alloc(8), Buffer.alloc(8));
} catch (err) {
  process.stderr.write('s3rver-judge: DES is unavailable; run node with --openssl-legacy-provider\n');
  process.exit(2);
}

const stats = { verified: 0, refused: 0, forwarded: 0, ops: {}, answers: {}, refusals: [] };

// The S3 operation a request is, from its method, query and headers (enough
// for the operations a cache client uses).
function operationOf(req) {
  const qpos = req.url.indexOf('?');
  const q = parseQuery(qpos < 0 ? '' : req.url.slice(qpos + 1));
  const path = (qpos < 0 ? req.url : req.url.slice(0, qpos)).split('/').filter(Boolean);
  const hasKey = path.length > 1;
  const copy = 'x-amz-copy-source' in req.headers;
  switch (req.method) {
    case 'HEAD':
      return hasKey ? 'HeadObject' : 'HeadBucket';
    case 'GET':
      return hasKey ? 'GetObject' : q['list-type'] === '2' ? 'ListObjectsV2' : 'ListObjects';
    case 'PUT':
      if ('partNumber' in q) return copy ? 'UploadPartCopy' : 'UploadPart';
      return hasKey ? (copy ? 'CopyObject' : 'PutObject') : 'CreateBucket';
    case 'POST':
      if ('uploads' in q) return 'CreateMultipartUpload';
      if ('uploadId' in q) return 'CompleteMultipartUpload';
      if ('delete' in q) return 'DeleteObjects';
      return 'PostObject';
    case 'DELETE':
      if ('uploadId' in q) return 'AbortMultipartUpload';
      return hasKey ? 'DeleteObject' : 'DeleteBucket';
    default:
      return req.method;
  }
}

const signer = new SignatureV4({
  credentials: { accessKeyId, secretAccessKey, sessionToken },
  region,
  service: 's3',
  sha256: Sha256,
  uriEscapePath: false, // S3 signs the path as sent: encoded once, not normalized
  applyChecksum: false,
});

function xmlEscape(s) {
  return String(s).replace(/[<>&'"]/g, c => `&#${c.charCodeAt(0)};`);
}

function refuse(req, res, status, code, message) {
  stats.refused++;
  if (stats.refusals.length < 20) {
    stats.refusals.push({ method: req.method, url: req.url, code, message });
  }
  const body =
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${code}</Code><Message>${xmlEscape(message)}</Message>` +
    `<RequestId>judge-${stats.refused}</RequestId></Error>`;
  res.writeHead(status, { 'Content-Type': 'application/xml', 'x-amz-request-id': `judge-${stats.refused}` });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function parseAuthorization(value) {
  const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
    value || '',
  );
  if (!m) return null;
  const cred = m[1].split('/');
  if (cred.length < 5) return null;
  // An access key id may itself contain '/', so the scope is the last four fields.
  const scope = cred.slice(-4);
  return {
    accessKeyId: cred.slice(0, -4).join('/'),
    date: scope[0],
    region: scope[1],
    service: scope[2],
    terminal: scope[3],
    signedHeaders: m[2].split(';'),
    signature: m[3],
  };
}

// The query as @smithy/signature-v4 expects it: decoded names and values,
// repeated names as arrays. '+' is a literal plus in S3 SigV4, not a space.
function parseQuery(rawQuery) {
  const query = {};
  if (!rawQuery) return query;
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const value = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    if (name in query) {
      query[name] = [].concat(query[name], value);
    } else {
      query[name] = value;
    }
  }
  return query;
}

function amzDateToDate(s) {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s || '');
  if (!m) return null;
  return new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]));
}

async function judge(req, body) {
  const auth = parseAuthorization(req.headers['authorization']);
  if (!req.headers['authorization']) return ['AccessDenied', 403, 'anonymous requests are refused by the judge'];
  if (!auth) return ['AuthorizationHeaderMalformed', 400, 'the Authorization header is not AWS4-HMAC-SHA256'];
  if (auth.accessKeyId !== accessKeyId) return ['InvalidAccessKeyId', 403, `unknown access key id ${auth.accessKeyId}`];
  if (auth.region !== region || auth.service !== 's3' || auth.terminal !== 'aws4_request') {
    return ['AuthorizationHeaderMalformed', 400, `credential scope ${auth.date}/${auth.region}/${auth.service} is not for region ${region}, service s3`];
  }
  const signed = new Set(auth.signedHeaders);
  for (const name of ['host', 'x-amz-date', 'x-amz-content-sha256']) {
    if (!signed.has(name)) return ['AccessDenied', 403, `${name} must be signed`];
  }
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith('x-amz-') && !signed.has(name)) {
      return ['AccessDenied', 400, `There were headers present in the request which were not signed: ${name}`];
    }
  }
  const date = amzDateToDate(req.headers['x-amz-date']);
  if (!date) return ['AccessDenied', 403, 'x-amz-date missing or not YYYYMMDDTHHMMSSZ'];
  if (req.headers['x-amz-date'].slice(0, 8) !== auth.date) return ['SignatureDoesNotMatch', 403, 'scope date differs from x-amz-date'];
  if (Math.abs(Date.now() - date.getTime()) > 15 * 60 * 1000) return ['RequestTimeTooSkewed', 403, 'x-amz-date is more than 15 minutes off'];
  if (sessionToken !== undefined && req.headers['x-amz-security-token'] !== sessionToken) {
    return ['InvalidToken', 400, 'x-amz-security-token missing or wrong'];
  }

  const payloadHash = req.headers['x-amz-content-sha256'];
  if (/^[0-9a-f]{64}$/.test(payloadHash)) {
    const actual = crypto.createHash('sha256').update(body).digest('hex');
    if (actual !== payloadHash) {
      return ['XAmzContentSHA256Mismatch', 400, `x-amz-content-sha256 ${payloadHash} but the body hashes to ${actual}`];
    }
  }

  // Recompute from exactly the headers the client says it signed.
  const headers = {};
  for (const name of auth.signedHeaders) {
    if (!(name in req.headers)) return ['AccessDenied', 403, `signed header ${name} is not in the request`];
    headers[name] = req.headers[name];
  }
  const qpos = req.url.indexOf('?');
  const request = {
    method: req.method,
    protocol: 'http:',
    hostname: (req.headers.host || '').replace(/:\d+$/, ''),
    path: qpos < 0 ? req.url : req.url.slice(0, qpos),
    query: parseQuery(qpos < 0 ? '' : req.url.slice(qpos + 1)),
    headers,
  };
  const alwaysUnsignable = auth.signedHeaders.filter(h => ALWAYS_UNSIGNABLE_HEADERS[h]);
  const result = await signer.sign(request, {
    signingDate: date,
    signableHeaders: alwaysUnsignable.length ? new Set(alwaysUnsignable) : undefined,
  });
  const expected = parseAuthorization(result.headers['authorization']);
  if (!expected || expected.signedHeaders.join(';') !== auth.signedHeaders.join(';')) {
    return ['SignatureDoesNotMatch', 403, `signed header lists differ: expected ${expected && expected.signedHeaders.join(';')}`];
  }
  if (expected.signature !== auth.signature) {
    return ['SignatureDoesNotMatch', 403, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.'];
  }
  return null;
}

function forward(req, res, body, targetPort, op) {
  const headers = { ...req.headers };
  delete headers['transfer-encoding'];
  headers['content-length'] = String(body.length);
  const upstream = http.request(
    { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers },
    up => {
      const answer = `${op} ${up.statusCode}`;
      stats.answers[answer] = (stats.answers[answer] || 0) + 1;
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', err => {
    if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' });
    res.end(`judge: s3rver failed: ${err.message}`);
  });
  upstream.end(body);
  stats.forwarded++;
}

async function main() {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 's3rver-judge-'));
  if (accessKeyId !== 'S3RVER') DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: buckets.map(name => ({ name })),
  });
  const s3rverAddress = await s3rver.run();

  const front = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/__judge/stats') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(stats));
      return;
    }
    const chunks = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      judge(req, body)
        .then(verdict => {
          if (verdict) {
            refuse(req, res, verdict[1], verdict[0], verdict[2]);
          } else {
            stats.verified++;
            const op = operationOf(req);
            stats.ops[op] = (stats.ops[op] || 0) + 1;
            forward(req, res, body, s3rverAddress.port, op);
          }
        })
        .catch(err => refuse(req, res, 500, 'InternalError', `judge failed: ${err.message}`));
    });
  });
  // Judge 100-continue itself only after the whole body: answer it right away.
  front.on('checkContinue', (req, res) => {
    res.writeContinue();
    front.emit('request', req, res);
  });
  await new Promise((resolve, reject) => front.listen(0, '127.0.0.1', err => (err ? reject(err) : resolve())));
  process.stdout.write(`${front.address().port}\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    front.close();
    front.closeAllConnections && front.closeAllConnections();
    s3rver
      .close()
      .catch(() => {})
      .finally(() => {
        fs.rmSync(directory, { recursive: true, force: true });
        process.exit(0);
      });
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}

main().catch(err => {
  process.stderr.write(`s3rver-judge: ${err.stack || err}\n`);
  process.exit(1);
});
