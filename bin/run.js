#!/usr/bin/env node
'use strict';
// The CLI's entry point. It is CommonJS (bin/package.json): starting Node's
// ES module loader would cost every call several milliseconds. A client
// command runs from the bundle (scripts/bundle-cli.mjs) with V8's code cache
// kept beside it, because a shell script calling etcdts in a loop pays the
// start-up on every call.
const { join } = require('node:path');

const root = join(__dirname, '..');
const argv = process.argv.slice(2);

if (argv[0] === 'server') {
  // A member starts once and runs for long: it runs as it always has, from
  // dist/src with oclif from node_modules, never loading the client bundle.
  void import('@oclif/core').then(({ execute }) => execute({ dir: root, args: argv }));
} else {
  const { requireWithCodeCache } = require('../dist/cli/code-cache.cjs');
  const bundle = join(root, 'dist', 'cli', 'etcdts.cjs');
  const cli = requireWithCodeCache(bundle, `${bundle}.cache`);
  // The cache learns each kind of run (a command, or its help) the first time
  // one runs after a build, then serves it: what a run compiles is known only
  // once it has run.
  const kind = cli.exports.runKind(argv);
  if (!cli.learnt.has(kind)) process.once('exit', () => cli.saveCache(kind));
  // oclif finds package.json from `root` (bin/ has its own, for the module type only).
  void cli.exports.run(root, argv);
}
