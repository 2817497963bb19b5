/**
 * "Did you mean this?" for a mistyped command, by cobra's rule (what
 * etcdctl suggests): a command whose name is within Levenshtein distance 2
 * of what was typed, ignoring case, or that starts with it; closest first.
 */
export const suggestionDistanceMax = 2;

export function suggestionsFor(typed: string, names: readonly string[]): string[] {
  const lower = typed.toLowerCase();
  return names
    .map((name) => ({ name, distance: levenshtein(lower, name.toLowerCase()) }))
    .filter(({ name, distance }) => distance <= suggestionDistanceMax || name.toLowerCase().startsWith(lower))
    .sort((a, b) => a.distance - b.distance || a.name.localeCompare(b.name))
    .map(({ name }) => name);
}

export function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
