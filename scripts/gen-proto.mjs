#!/usr/bin/env node
// Generates typed TypeScript (messages, grpc-js services and clients) from our
// .proto files with protoc and ts-proto, both shipped inside npm packages, so
// the build needs no network. Skips the work when nothing changed.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const protoDir = join(root, 'src', 'proto');
const outDir = join(protoDir, 'gen');
const stampFile = join(outDir, '.stamp');

function protoFiles(dir) {
  const found = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'gen') continue;
    if (statSync(path).isDirectory()) found.push(...protoFiles(path));
    else if (name.endsWith('.proto')) found.push(path);
  }
  return found.sort();
}

const files = protoFiles(protoDir);
const hash = createHash('sha256');
for (const f of files) hash.update(f).update(readFileSync(f));
hash.update(readFileSync(fileURLToPath(import.meta.url)));
const digest = hash.digest('hex');
if (existsSync(stampFile) && readFileSync(stampFile, 'utf8') === digest) process.exit(0);

rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const require = createRequire(import.meta.url);
const protoc = require.resolve('protoc/protoc.cjs');
const plugin = join(root, 'node_modules', '.bin', 'protoc-gen-ts_proto');
const options = [
  'outputServices=grpc-js',
  'forceLong=bigint',
  'env=node',
  'esModuleInterop=true',
  'importSuffix=.js',
  'useDate=false',
  'outputTypeRegistry=false',
].join(',');
const result = spawnSync(process.execPath, [
  protoc,
  `--plugin=protoc-gen-ts_proto=${plugin}`,
  `--ts_proto_out=${outDir}`,
  `--ts_proto_opt=${options}`,
  `-I${protoDir}`,
  ...files.map((f) => relative(protoDir, f)),
], { cwd: protoDir, stdio: 'inherit' });
if (result.status !== 0) {
  console.error('protoc failed');
  process.exit(result.status ?? 1);
}
writeFileSync(stampFile, digest);
