// bench/RESULTS.md holds the figures of several scripts (bench/compare.js,
// bench/cli-startup.js, ...). Each script owns one section, between two
// HTML comments naming it, and rewrites only that section: running one
// script keeps the others' figures.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const begin = (name, script = `bench/${name}.js`) => `<!-- begin ${name}: written by ${script}, rewritten on each run -->`;
const end = (name) => `<!-- end ${name} -->`;

/** The file's text with the section `name` replaced by `markdown` (appended when the file has none). */
export function withSection(text, name, markdown, script = undefined) {
  const block = `${begin(name, script)}\n${markdown.trimEnd()}\n${end(name)}\n`;
  const start = text.indexOf(begin(name, script));
  const stop = text.indexOf(end(name));
  if (start >= 0 && stop > start) return text.slice(0, start) + block + text.slice(stop + end(name).length).replace(/^\n/, '');
  return text === '' ? block : `${text.trimEnd()}\n\n${block}`;
}

/** Rewrites the section `name` (written by `script`, bench/<name>.js unless given) of the results file at `path`, keeping the rest of the file. */
export function writeSection(path, name, markdown, script = undefined) {
  writeFileSync(path, withSection(existsSync(path) ? readFileSync(path, 'utf8') : '', name, markdown, script));
}
