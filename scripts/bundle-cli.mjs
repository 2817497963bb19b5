#!/usr/bin/env node
// Bundles the CLI (tsc's output in dist/src, @oclif/core, grpc-js, the
// generated protobuf code and the rest of what the commands import) into one
// CommonJS file, dist/cli/etcdts.cjs, so that a command costs one file read
// and, with the V8 code cache bin/run.js keeps beside it, almost no
// compilation: thousands of small ES modules resolved, read and compiled on
// every run were most of the CLI's start-up time. The bundle is the same code:
// esbuild only concatenates it, keeping names.
//
// Inside the bundle every command module is initialized lazily (the entry
// requires it from a getter of COMMANDS), so `get` runs the top-level code
// of what `get` imports and nothing else. What the server command loads with
// import() (the server itself) stays outside, in dist/src: it is not on a
// client's path, and server work then needs only tsc.
import { build } from 'esbuild';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importOutsideName } from '../dist/src/cli/code-cache.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'src');
const commandsDir = join(compiled, 'commands');
export const bundleFile = join(root, 'dist', 'cli', 'etcdts.cjs');
/** bin/run.js's loader, which compiles the bundle with V8's code cache (src/cli/code-cache.ts), as CommonJS. */
const loaderFile = join(root, 'dist', 'cli', 'code-cache.cjs');

/** `member/add.js` → `member:add`, as oclif names commands found in a folder. */
function commandFiles(dir, prefix = []) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...commandFiles(path, [...prefix, name]));
    else if (name.endsWith('.js')) found.push({ id: [...prefix, name.slice(0, -3)].join(':'), path });
  }
  return found;
}

/** The bundle's entry: what package.json's oclif section and bin/run.js take from it. */
function entrySource(commands) {
  const rel = (path) => JSON.stringify(`./${relative(root, path).split(sep).join('/')}`);
  const getter = (load) => `{ enumerable: true, get: () => ${load} }`;
  const commandGetters = commands.map(({ id, path }) => `  ${JSON.stringify(id)}: ${getter(`require(${rel(path)}).default`)},`);
  return [
    `const { execute } = require('@oclif/core/execute');`,
    `const { reorderGlobalFlags, runKindOf } = require(${rel(join(compiled, 'cli', 'argv.js'))});`,
    `// etcdctl scripts often put global flags before the command; oclif wants the command first.`,
    `exports.run = (dir, argv) => execute({ dir, args: reorderGlobalFlags(argv) });`,
    `exports.COMMANDS = Object.defineProperties({}, {`,
    ...commandGetters,
    `});`,
    `const commandIds = new Set(Object.keys(exports.COMMANDS));`,
    `exports.runKind = (argv) => runKindOf(argv, commandIds);`,
    `Object.defineProperties(exports, {`,
    `  help: ${getter(`require(${rel(join(compiled, 'cli', 'help.js'))}).default`)},`,
    `  commandNotFound: ${getter(`require(${rel(join(compiled, 'cli', 'hooks', 'command-not-found.js'))}).default`)},`,
    `});`,
  ].join('\n');
}

/** An expression for the file: URL of `path` (in dist/src) at run time, found from the bundle's place. */
function fileUrlAtRunTime(path) {
  const fromBundle = relative(dirname(bundleFile), path).split(sep).join('/');
  return `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(fromBundle)})).href`;
}

/**
 * Two rewrites of tsc's output, for the code that runs in the bundle:
 *
 * - esbuild leaves `import.meta` empty in a CommonJS bundle; our modules use
 *   import.meta.url to find files that run in other processes or threads
 *   (offline-worker.js, worker-main.js). Each gets the URL of its own file in
 *   dist/src, so those files load from tsc's output as before.
 * - The server, which the server command loads with import(), stays out of
 *   the bundle, in dist/src: not on a client's path, and server work needs
 *   only tsc. Such an import() becomes a call of the loader's importOutside
 *   (src/cli/code-cache.ts says why) with the file's URL.
 */
const serverDir = join(compiled, 'server') + sep;
const relativeImport = /\bimport\((['"])(\.{1,2}\/[^'"]+)\1\)/g;
const rewriteForBundle = {
  name: 'rewrite-for-bundle',
  setup(b) {
    b.onLoad({ filter: /[\\/]dist[\\/]src[\\/].*\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const rewritten = source
        .replaceAll('import.meta.url', `(${fileUrlAtRunTime(args.path)})`)
        .replace(relativeImport, (call, _quote, specifier) => {
          const target = join(dirname(args.path), specifier);
          return target.startsWith(serverDir) ? `${importOutsideName}(${fileUrlAtRunTime(target)})` : call;
        });
      return rewritten === source ? undefined : { contents: rewritten, loader: 'js' };
    });
  },
};

/**
 * esbuild writes strings and identifiers as ASCII, but copies regular
 * expression literals and comments as they are (an ANSI pattern in @oclif's
 * dependencies holds U+009B). There a \\uXXXX escape means the same code
 * unit, so every one left is escaped: the loader then reads the bundle as
 * Latin-1, a plain copy, instead of decoding UTF-8.
 */
function escapeNonAscii(file) {
  const source = readFileSync(file, 'utf8');
  // After a backslash an escape would change the meaning: in /\é/ the backslash escapes é, in /\\u00e9/ itself.
  if (/\\[^\x00-\x7f]/.test(source)) throw new Error(`${file}: a non-ASCII character after a backslash; escape it by hand`);
  const ascii = source.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (ascii !== source) writeFileSync(file, ascii);
}

const shared = { bundle: true, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'warning' };

export async function bundleCli() {
  rmSync(dirname(bundleFile), { recursive: true, force: true });
  const commands = commandFiles(commandsDir);
  const result = await build({
    ...shared,
    stdin: { contents: entrySource(commands), resolveDir: root, sourcefile: 'cli-entry.cjs', loader: 'js' },
    outfile: bundleFile,
    // Class and function names are part of behaviour (error names, oclif's command names).
    keepNames: true,
    // Optional or development-only packages that @oclif/core and others look for at run time.
    external: ['typescript', 'ts-node', 'tsx'],
    plugins: [rewriteForBundle],
    // The loader passes importOutside; a plain require() of the bundle (oclif's, building the manifest) has import().
    banner: { js: `var ${importOutsideName} = typeof ${importOutsideName} === 'function' ? ${importOutsideName} : (url) => import(url);` },
    metafile: true,
  });
  escapeNonAscii(bundleFile);
  await build({ ...shared, entryPoints: [join(compiled, 'cli', 'code-cache.js')], outfile: loaderFile });
  return { commands: commands.length, bytes: statSync(bundleFile).size, metafile: result.metafile };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { commands, bytes } = await bundleCli();
  console.log(`bundled ${commands} commands into ${relative(root, bundleFile)} (${(bytes / 1024 / 1024).toFixed(1)} MiB)`);
}
