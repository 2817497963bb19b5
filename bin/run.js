#!/usr/bin/env node
import { execute } from '@oclif/core';
import { reorderGlobalFlags } from '../dist/src/cli/argv.js';

// etcdctl scripts often put global flags before the command
// (`etcdctl --endpoints=$EP get foo`); oclif wants the command first.
await execute({ dir: import.meta.url, args: reorderGlobalFlags(process.argv.slice(2)) });
