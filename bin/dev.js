#!/usr/bin/env node
// Development entry point: same as run.js but with oclif's development mode
// (uncached command discovery). Run `npm run compile` first; the TS sources
// are compiled, not loaded directly (stack.md).
import { execute } from '@oclif/core';
import { reorderGlobalFlags } from '../dist/src/cli/argv.js';

await execute({ development: true, dir: import.meta.url, args: reorderGlobalFlags(process.argv.slice(2)) });
