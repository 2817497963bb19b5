import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './etcdts.js';
import { run } from './procs.js';

/**
 * Small Go programs the tests run to check etcdts with the reference
 * implementations' own code (test/go/src: the Prometheus text parser,
 * grpc-go's health client), built with Debian's Go and sources in GOPATH
 * mode, as bench/go/build.sh builds its load generator: nothing is
 * downloaded. A tool is rebuilt only when its source is newer.
 */
export function goAvailable(): boolean {
  return existsSync('/usr/bin/go') && existsSync('/usr/share/gocode/src/github.com/prometheus/common/expfmt');
}

/**
 * .ci/run installs Go and the sources (golang-go, golang-etcd-server-dev):
 * without them a test that checks etcdts with a reference implementation's
 * own code fails, rather than skipping and leaving a green run that checked
 * less.
 */
export function requireGo(): void {
  if (!goAvailable()) throw new Error('Go and Debian\'s Go sources are missing: apt-get install golang-go golang-etcd-server-dev');
}

export async function goTool(name: 'promparse' | 'healthprobe'): Promise<string> {
  const root = join(repoRoot, 'test', 'go');
  const bin = join(root, 'bin', name);
  const source = join(root, 'src', name, 'main.go');
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(source).mtimeMs) return bin;
  const built = await run('go', ['build', '-o', bin, `./src/${name}`], {
    cwd: root,
    env: { ...process.env, GOPATH: `${root}:/usr/share/gocode`, GO111MODULE: 'off', GOFLAGS: '' },
    timeoutMs: 240_000,
  });
  if (built.code !== 0) throw new Error(`go build ${name} failed: ${built.stdout}${built.stderr}`);
  return bin;
}
