import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { importOutsideName } from '../../../src/cli/code-cache.js';

const loaderUrl = new URL('../../../src/cli/code-cache.js', import.meta.url).href;

interface Run {
  outcome: string;
  learnt: string[];
  value: unknown;
  sameAsRequire: boolean;
}

/**
 * Loads `file` in a new Node process, as bin/run.js does: V8 keeps compiled
 * code per process, so only a new process shows what the cache file does.
 * `call` is run on the exports; `learn` names the kind of run to save at exit.
 */
function load(file: string, cacheFile: string, { call = 'm.value', learn = '' } = {}): Run {
  const script = `
    import { createRequire } from 'node:module';
    import { requireWithCodeCache } from ${JSON.stringify(loaderUrl)};
    const loaded = requireWithCodeCache(${JSON.stringify(file)}, ${JSON.stringify(cacheFile)});
    const m = loaded.exports;
    const value = await (${call});
    const sameAsRequire = createRequire(import.meta.url)(${JSON.stringify(file)}) === m;
    if (${JSON.stringify(learn)} !== '') process.once('exit', () => loaded.saveCache(${JSON.stringify(learn)}));
    console.log(JSON.stringify({ outcome: loaded.outcome, learnt: [...loaded.learnt], value, sameAsRequire }));
  `;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(child.status, 0, child.stderr);
  return JSON.parse(child.stdout) as Run;
}

describe('the CLI bundle loaded with V8\'s code cache (code-cache.ts)', () => {
  let dir: string;
  let file: string;
  let cache: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'code-cache-'));
    file = join(dir, 'bundle.cjs');
    cache = join(dir, 'bundle.cjs.cache');
    writeFileSync(file, 'exports.value = [__filename === module.filename, typeof require, "é"].join(" ");\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs the file as require() would, and require() then gets the same exports', () => {
    const run = load(file, cache);
    assert.equal(run.value, 'true function é');
    assert.equal(run.sameAsRequire, true);
    assert.equal(run.outcome, 'missing');
  });

  it('uses the cache a run saved, and remembers the kinds of run it learnt', () => {
    assert.equal(load(file, cache, { learn: 'get' }).outcome, 'missing');
    const second = load(file, cache, { learn: 'put' });
    assert.deepEqual([second.outcome, second.learnt], ['used', ['get']]);
    assert.equal(second.value, 'true function é');
    const third = load(file, cache);
    assert.deepEqual([third.outcome, third.learnt], ['used', ['get', 'put']]);
  });

  it('rejects the cache of another source, forgets what it had learnt, and runs the new source', () => {
    load(file, cache, { learn: 'get' });
    writeFileSync(file, 'exports.value = "rebuilt, and longer than before";\n');
    const run = load(file, cache, { learn: 'put' });
    assert.deepEqual([run.outcome, run.learnt, run.value], ['rejected', [], 'rebuilt, and longer than before']);
    assert.deepEqual(load(file, cache).learnt, ['put']);
  });

  it('rejects the cache of a rebuilt source of the same length (V8 compares lengths only)', () => {
    writeFileSync(file, 'exports.value = "old";\n');
    load(file, cache, { learn: 'get' });
    writeFileSync(file, 'exports.value = "new";\n');
    utimesSync(file, new Date(), new Date(Date.now() + 60_000));
    const run = load(file, cache);
    assert.deepEqual([run.outcome, run.value], ['rejected', 'new']);
  });

  it('takes a torn or foreign cache file for no cache', () => {
    for (const junk of [Buffer.from([1, 2]), Buffer.from([0xff, 0xff, 0xff, 0x7f, 1, 2, 3]), Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.from('{]')])]) {
      writeFileSync(cache, junk);
      const run = load(file, cache);
      assert.deepEqual([run.outcome, run.value], ['missing', 'true function é']);
    }
  });

  it('runs without a cache where it cannot write one, leaving no file behind', () => {
    const unwritable = join(dir, 'no-such-folder', 'bundle.cjs.cache');
    load(file, unwritable, { learn: 'get' });
    assert.equal(load(file, unwritable).outcome, 'missing');
    assert.deepEqual(readdirSync(dir).sort(), ['bundle.cjs']);
  });

  it(`gives cached code ${importOutsideName}, an import() that works there (Node 20 loses its own in cached code)`, () => {
    const esm = join(dir, 'outside.mjs');
    writeFileSync(esm, 'export const answer = 42;\n');
    writeFileSync(file, `exports.load = (url) => ${importOutsideName}(url).then((m) => m.answer);\n`);
    const call = `m.load(${JSON.stringify(pathToFileURL(esm).href)})`;
    assert.equal(load(file, cache, { call, learn: 'x' }).value, 42);
    const cached = load(file, cache, { call });
    assert.deepEqual([cached.outcome, cached.value], ['used', 42]);
  });

  it('registers the file under its real path, so a require() through a symlink finds it loaded', () => {
    const link = join(dir, 'link.cjs');
    symlinkSync(file, link);
    const script = `
      import { createRequire } from 'node:module';
      import { requireWithCodeCache } from ${JSON.stringify(loaderUrl)};
      const m = requireWithCodeCache(${JSON.stringify(link)}, ${JSON.stringify(cache)}).exports;
      const require = createRequire(import.meta.url);
      console.log(require(${JSON.stringify(file)}) === m && require(${JSON.stringify(link)}) === m);
    `;
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(child.stdout.trim(), 'true', child.stderr);
  });
});
