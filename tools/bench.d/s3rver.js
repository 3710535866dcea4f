#!/usr/bin/env node
// s3rver (npm), alone, as the benchmark's peer server: no judge in front, so
// its own request rate is measured. Binds 127.0.0.1 on a kernel-chosen port,
// prints `s3rver listening on http://127.0.0.1:PORT` when ready, stops on
// SIGTERM/SIGINT or when stdin closes, and removes its directory.
//
// Usage: node --openssl-legacy-provider s3rver.js --bucket NAME
//             [--access-key ID --secret-key SECRET]
// (the legacy provider is needed for s3rver's DES continuation tokens).
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');

const modules = process.env.BK_BENCH_NODE_MODULES;
const load = name => require(modules ? path.join(modules, name) : name);
const S3rver = load('s3rver');
const { DUMMY_ACCOUNT } = load('s3rver/lib/models/account');

let bucket = 'bench';
let accessKeyId = 'S3RVER';
let secretAccessKey = 'S3RVER';
for (let i = 2; i < process.argv.length; i++) {
  const arg = process.argv[i];
  const value = process.argv[i + 1];
  if (value === undefined) {
    process.stderr.write(`s3rver.js: ${arg} needs a value\n`);
    process.exit(2);
  }
  if (arg === '--bucket') bucket = value;
  else if (arg === '--access-key') accessKeyId = value;
  else if (arg === '--secret-key') secretAccessKey = value;
  else {
    process.stderr.write(`s3rver.js: unknown argument ${arg}\n`);
    process.exit(2);
  }
  i++;
}

async function main() {
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-s3rver-'));
  if (accessKeyId !== 'S3RVER') DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  const address = await server.run();
  process.stdout.write(`s3rver listening on http://127.0.0.1:${address.port}\n`);

  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server
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
  process.stdin.resume();
}

main().catch(err => {
  process.stderr.write(`s3rver.js: ${err.stack || err}\n`);
  process.exit(1);
});
