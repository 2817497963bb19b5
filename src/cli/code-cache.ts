import { isAscii } from 'node:buffer';
import { closeSync, openSync, readFileSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { Module, createRequire } from 'node:module';
import { dirname } from 'node:path';
import { Script } from 'node:vm';

/** The CommonJS loader's internals used here: public since Node's first versions, not in @types/node. */
interface CjsLoader {
  _cache: Record<string, Module>;
  _nodeModulePaths(dir: string): string[];
}

/** What became of the code cache on this run. */
export type CacheOutcome = 'used' | 'missing' | 'rejected';

export interface CachedModule {
  exports: unknown;
  outcome: CacheOutcome;
  /** The kinds of run the cache was written after (none unless it was used). */
  learnt: ReadonlySet<string>;
  /**
   * Writes V8's code cache for the module as it is now, with every function
   * compiled so far: those this run compiled and those it took from the old
   * cache. So call it late (at exit), naming the kind of run this was.
   * Fails silently: the package may be installed read-only.
   */
  saveCache(kind: string): void;
}

/**
 * The name under which the loaded file finds `importOutside`, its import()
 * of files outside it. Node 20 loses what import() needs in code that V8
 * takes from a code cache (ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING in every
 * cached run, on 20.20.2), so such import() calls in the bundle are
 * rewritten to call this function (scripts/bundle-cli.mjs), which Node
 * compiled itself. The bundle sits beside this file: a relative specifier
 * means the same file from either.
 */
export const importOutsideName = '__importOutside';

const importOutside = (specifier: string): Promise<unknown> => import(specifier);

/**
 * Loads a CommonJS file as require() does (the same wrapper, and the module
 * goes into require's cache under its real path, so a later require() of the
 * file gets these exports) but compiled with V8's code cache from
 * `cacheFile`: a cached run skips parsing and compiling every function that
 * the runs which wrote the cache had compiled. (Node 22 has this built in,
 * module.enableCompileCache; Node 20 has vm's cachedData.)
 *
 * V8 checks a cache against its own version, its flags and the source, and
 * rejects one that does not match: the file is then compiled as require()
 * would compile it.
 */
export function requireWithCodeCache(path: string, cacheFile: string): CachedModule {
  const file = realpathSync(path);
  const source = readSource(file);
  const cache = readCacheFile(cacheFile);
  // V8 tells sources apart by their length only: a rebuilt file of the same length would get the old code.
  const fresh = cache !== undefined && cache.source === source.version;
  const wrapped = `(function (exports, require, module, __filename, __dirname, ${importOutsideName}) {${source.text}\n})`;
  const script = new Script(wrapped, { filename: file, cachedData: fresh ? cache.data : undefined });
  const outcome: CacheOutcome = cache === undefined ? 'missing' : !fresh || script.cachedDataRejected === true ? 'rejected' : 'used';
  const learnt = outcome === 'used' ? cache!.learnt : new Set<string>();
  const loader = Module as unknown as CjsLoader;
  const module = new Module(file);
  module.filename = file;
  module.paths = loader._nodeModulePaths(dirname(file));
  loader._cache[file] = module;
  try {
    const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
    wrapper.call(module.exports, module.exports, createRequire(file), module, file, dirname(file), importOutside);
  } catch (err) {
    delete loader._cache[file];
    throw err;
  }
  module.loaded = true;
  const saveCache = (kind: string): void => writeCacheFile(cacheFile, { source: source.version, learnt: [...new Set([...learnt, kind])].sort() }, () => script.createCachedData());
  return { exports: module.exports, outcome, learnt, saveCache };
}

/**
 * The file's text, and which version of it this is (its size and time of
 * change, which a build changes). An ASCII file (the bundle is made ASCII)
 * is read as Latin-1: a copy, not a UTF-8 decode.
 */
function readSource(file: string): { text: string; version: string } {
  const bytes = readFileSync(file);
  const { size, mtimeMs } = statSync(file);
  return { text: bytes.toString(isAscii(bytes) ? 'latin1' : 'utf8'), version: `${size}@${mtimeMs}` };
}

/*
 * A cache file is the length of a JSON header (4 bytes, little-endian), the
 * header ({"source": version of the source, "learnt": [kinds of run]}), then
 * V8's data.
 */
interface CacheHeader {
  source: string;
  learnt: string[];
}
const headerLengthBytes = 4;
const headerBytesMax = 64 * 1024;

function readCacheFile(file: string): { source: string; learnt: Set<string>; data: Buffer } | undefined {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch {
    return undefined;
  }
  // A file this did not write (or a torn one) is no cache: V8 would reject its data anyway.
  if (bytes.length < headerLengthBytes) return undefined;
  const headerBytes = bytes.readUInt32LE(0);
  if (headerBytes > headerBytesMax || headerLengthBytes + headerBytes > bytes.length) return undefined;
  try {
    const header = JSON.parse(bytes.toString('utf8', headerLengthBytes, headerLengthBytes + headerBytes)) as Partial<CacheHeader>;
    const learnt = Array.isArray(header.learnt) ? header.learnt.filter((k): k is string => typeof k === 'string') : [];
    return { source: String(header.source), learnt: new Set(learnt), data: bytes.subarray(headerLengthBytes + headerBytes) };
  } catch {
    return undefined;
  }
}

/**
 * Through a temporary file and a rename, so that a concurrent run reads the
 * old cache or the new one, never half of one. The file is opened before
 * V8 serializes anything: where it cannot be written (a read-only install),
 * every run would otherwise pay for a cache it throws away.
 */
function writeCacheFile(file: string, header: CacheHeader, data: () => Buffer): void {
  const temporary = `${file}.${process.pid}.tmp`;
  let fd: number;
  try {
    fd = openSync(temporary, 'w', 0o644);
  } catch {
    return;
  }
  try {
    const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
    const length = Buffer.alloc(headerLengthBytes);
    length.writeUInt32LE(headerBytes.length, 0);
    writeFileSync(fd, Buffer.concat([length, headerBytes, data()]));
    closeSync(fd);
    renameSync(temporary, file);
  } catch {
    // A full disk, say: no cache this time, and no temporary file left behind.
    try {
      closeSync(fd);
    } catch {
      // Closed already.
    }
    try {
      unlinkSync(temporary);
    } catch {
      // Gone already.
    }
  }
}
