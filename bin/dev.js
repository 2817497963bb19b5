#!/usr/bin/env node
'use strict';
// Development entry point: runs tsc's output (dist/src) as it is, without the
// bundle or its manifest (commands are found by loading dist/src/commands,
// which takes a while). Run `npm run compile` first; the TS sources are
// compiled, not loaded directly (stack.md).
const { readFileSync } = require('node:fs');
const { join } = require('node:path');

async function main() {
  const root = join(__dirname, '..');
  const pjson = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  pjson.oclif = {
    ...pjson.oclif,
    commands: './dist/src/commands',
    helpClass: './dist/src/cli/help.js',
    hooks: { ...pjson.oclif.hooks, command_not_found: './dist/src/cli/hooks/command-not-found.js' },
  };
  const { execute, Plugin } = await import('@oclif/core');
  const { reorderGlobalFlags } = await import('../dist/src/cli/argv.js');
  const plugin = new Plugin({ root, pjson, isRoot: true, ignoreManifest: true });
  await plugin.load();
  await execute({ loadOptions: { root, plugins: new Map([[plugin.name, plugin]]) }, args: reorderGlobalFlags(process.argv.slice(2)) });
}

void main();
