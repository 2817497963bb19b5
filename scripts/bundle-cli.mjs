#!/usr/bin/env node
// Bundles the CLI (tsc's output in dist/src, @oclif/core, grpc-js, the
// generated protobuf code and the rest of what the client commands import)
// into one CommonJS file, dist/cli/etcdts.cjs, so that a command costs one
// file read and, with the V8 code cache bin/run.js keeps beside it, almost no
// compilation: resolving, reading and compiling hundreds of small modules on
// every run was most of the CLI's start-up time. The bundle is the same code:
// esbuild concatenates it, keeping names.
//
// Inside the bundle every command module is initialized lazily, so `get` runs
// the top-level code of what `get` imports and nothing else. oclif finds each
// command through a one-line file in dist/cli/commands (the manifest names
// those files). The server command's file points into dist/src instead: the
// server is not on a client's path, and starting a member costs what it did.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { importOutsideName } from '../dist/src/cli/code-cache.js';

const ts = createRequire(import.meta.url)('typescript');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'src');
const outDir = join(root, 'dist', 'cli');
export const bundleFile = join(outDir, 'etcdts.cjs');
/** bin/run.js's loader, which compiles the bundle with V8's code cache (src/cli/code-cache.ts), as CommonJS. */
const loaderFile = join(outDir, 'code-cache.cjs');
/** Commands that run from dist/src, outside the bundle. */
const outsideCommands = new Set(['server']);

const posix = (path) => path.split(sep).join('/');

/** `member/add.js` → `member:add`, as oclif names commands found in a folder. */
function commandFiles(dir, prefix = []) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...commandFiles(path, [...prefix, name]));
    else if (name.endsWith('.js')) found.push({ id: [...prefix, name.slice(0, -3)].join(':'), words: [...prefix, name.slice(0, -3)], path });
  }
  return found;
}

/** The bundle's entry: what bin/run.js, the command files and package.json's oclif section take from it. */
function entrySource(commands) {
  const rel = (path) => JSON.stringify(`./${posix(relative(root, path))}`);
  const getter = (load) => `{ enumerable: true, get: () => ${load} }`;
  const bundled = commands.filter((c) => !outsideCommands.has(c.id));
  return [
    `const { execute } = require('@oclif/core/execute');`,
    `const { reorderGlobalFlags, runKindOf } = require(${rel(join(compiled, 'cli', 'argv.js'))});`,
    `// etcdctl scripts often put global flags before the command; oclif wants the command first.`,
    `exports.run = (dir, argv) => execute({ dir, args: reorderGlobalFlags(argv) });`,
    `const commandIds = new Set(${JSON.stringify(commands.map((c) => c.id))});`,
    `exports.runKind = (argv) => runKindOf(argv, commandIds);`,
    `exports.COMMANDS = Object.defineProperties({}, {`,
    ...bundled.map(({ id, path }) => `  ${JSON.stringify(id)}: ${getter(`require(${rel(path)}).default`)},`),
    `});`,
    `Object.defineProperties(exports, {`,
    `  help: ${getter(`require(${rel(join(compiled, 'cli', 'help.js'))}).default`)},`,
    `  commandNotFound: ${getter(`require(${rel(join(compiled, 'cli', 'hooks', 'command-not-found.js'))}).default`)},`,
    `});`,
  ].join('\n');
}

/** One file per command for oclif to find: it takes the command from the bundle, or from dist/src. */
function writeCommandFiles(commands) {
  for (const { id, words, path } of commands) {
    const base = join(outDir, 'commands', ...words);
    mkdirSync(dirname(base), { recursive: true });
    if (outsideCommands.has(id)) {
      writeFileSync(`${base}.js`, `export { default } from ${JSON.stringify(posix(relative(dirname(base), path)))};\n`);
    } else {
      const bundle = posix(relative(dirname(base), bundleFile));
      writeFileSync(`${base}.cjs`, `module.exports = require(${JSON.stringify(bundle)}).COMMANDS[${JSON.stringify(id)}];\n`);
    }
  }
}

/** An expression for the file: URL of `path` (in dist/src) at run time, found from the bundle's place. */
function fileUrlAtRunTime(path) {
  const fromBundle = posix(relative(dirname(bundleFile), path));
  return `require('node:url').pathToFileURL(require('node:path').join(__dirname, ${JSON.stringify(fromBundle)})).href`;
}

/**
 * The start of every import() whose specifier is not a string literal, by
 * TypeScript's parser: esbuild bundles literal ones, and these load files
 * outside the bundle at run time (oclif loading an ES module command, say).
 */
function computedImportStarts(path, source) {
  const file = ts.createSourceFile(path, source, ts.ScriptTarget.Latest, false, ts.ScriptKind.JS);
  const starts = [];
  const visit = (node) => {
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && !ts.isStringLiteralLike(node.arguments[0])) {
      starts.push(node.expression.getStart(file));
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return starts;
}

/**
 * Two rewrites of the code that runs in the bundle:
 *
 * - esbuild leaves `import.meta` empty in a CommonJS bundle; our modules use
 *   import.meta.url to find files that run in other processes or threads
 *   (offline-worker.js, worker-main.js). Each gets the URL of its own file in
 *   dist/src, so those files load from tsc's output as before.
 * - An import() of a file outside the bundle becomes a call of the loader's
 *   importOutside (src/cli/code-cache.ts says why). The loader sits beside
 *   the bundle, so a relative specifier means the same file.
 */
const rewriteForBundle = {
  name: 'rewrite-for-bundle',
  setup(b) {
    b.onLoad({ filter: /\.[cm]?js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      let rewritten = source;
      if (args.path.startsWith(compiled + sep)) rewritten = rewritten.replaceAll('import.meta.url', `(${fileUrlAtRunTime(args.path)})`);
      if (rewritten.includes('import(')) {
        for (const start of computedImportStarts(args.path, rewritten).reverse()) {
          rewritten = `${rewritten.slice(0, start)}${importOutsideName}${rewritten.slice(start + 'import'.length)}`;
        }
      }
      return rewritten === source ? undefined : { contents: rewritten, loader: 'js' };
    });
  },
};

/**
 * esbuild writes strings and identifiers as ASCII, but copies regular
 * expression literals and comments as they are (an ANSI pattern in oclif's
 * dependencies holds U+009B). There a \uXXXX escape means the same code
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

/** A literal import() esbuild left to run time would fail in cached code: only computed ones are rewritten. */
function checkNoExternalImportCalls(metafile) {
  const left = Object.values(metafile.outputs).flatMap((o) => o.imports).filter((i) => i.kind === 'dynamic-import' && i.external);
  if (left.length > 0) throw new Error(`import() of ${left.map((i) => i.path).join(', ')} left outside the bundle`);
}

const shared = { bundle: true, format: 'cjs', platform: 'node', target: 'node20', logLevel: 'warning' };

export async function bundleCli() {
  rmSync(outDir, { recursive: true, force: true });
  const commands = commandFiles(join(compiled, 'commands'));
  const result = await build({
    ...shared,
    stdin: { contents: entrySource(commands), resolveDir: root, sourcefile: 'cli-entry.cjs', loader: 'js' },
    outfile: bundleFile,
    // Class and function names are part of behaviour (error names, oclif's command names).
    keepNames: true,
    // Optional or development-only packages that @oclif/core and others look for at run time.
    external: ['typescript', 'ts-node', 'tsx'],
    plugins: [rewriteForBundle],
    // The loader passes importOutside; a plain require() of the bundle (by `oclif manifest`) has import().
    banner: { js: `var ${importOutsideName} = typeof ${importOutsideName} === 'function' ? ${importOutsideName} : (specifier) => import(specifier);` },
    metafile: true,
  });
  checkNoExternalImportCalls(result.metafile);
  escapeNonAscii(bundleFile);
  writeCommandFiles(commands);
  await build({ ...shared, entryPoints: [join(compiled, 'cli', 'code-cache.js')], outfile: loaderFile });
  return { commands: commands.length, bytes: statSync(bundleFile).size, metafile: result.metafile };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { commands, bytes } = await bundleCli();
  console.log(`bundled ${commands - outsideCommands.size} of ${commands} commands into ${posix(relative(root, bundleFile))} (${(bytes / 1024 / 1024).toFixed(1)} MiB)`);
}
