// Reading a V8 .cpuprofile (node --cpu-prof): where the sampled time went,
// by function (self time), with the shares of idle, GC and the rest.

import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { repoRoot } from './common.js';

/** V8's pseudo-frames: time not spent running JavaScript or native code of a function. */
const idleFrame = '(idle)';
const gcFrame = '(garbage collector)';

/** Where a function lives, shortened: our files relative to the repository, node_modules by package, Node's own by module. */
function place(url, line) {
  if (url === '') return '';
  const path = url.replace(/^file:\/\//, '');
  const nm = path.lastIndexOf('/node_modules/');
  const shown = nm >= 0 ? path.slice(nm + '/node_modules/'.length) : path.startsWith('/') ? relative(repoRoot, path) : path;
  return `${shown}:${line + 1}`;
}

/** Now on the clock V8 stamps profile samples with (CLOCK_MONOTONIC, microseconds), as process.hrtime is. */
export const profileClockUs = () => Number(process.hrtime.bigint() / 1000n);

/**
 * Self time of each function (summed over the profile's nodes with the same
 * name and place), with total, idle and GC time, in milliseconds; only the
 * samples taken within `window` ({ fromUs, toUs } on profileClockUs) when given,
 * so that start-up does not count.
 */
export function summarizeProfile(file, window = { fromUs: -Infinity, toUs: Infinity }) {
  const profile = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  let at = profile.startTime;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    at += delta;
    if (at < window.fromUs || at > window.toUs) continue;
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + delta);
  }
  const byFunction = new Map();
  let totalUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id).callFrame;
    totalUs += us;
    if (frame.functionName === idleFrame) idleUs += us;
    else if (frame.functionName === gcFrame) gcUs += us;
    const key = `${frame.functionName || '(anonymous)'} ${place(frame.url, frame.lineNumber)}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
  }
  const top = [...byFunction.entries()]
    .filter(([key]) => !key.startsWith(idleFrame))
    .sort((a, b) => b[1] - a[1])
    .map(([fn, us]) => ({ fn, ms: us / 1000, share: us / totalUs }));
  return { totalMs: totalUs / 1000, idleShare: idleUs / totalUs, gcShare: gcUs / totalUs, top };
}
