/**
 * How the mutation tables inject a bug: one method of one object is
 * replaced (its class, and every other instance, stay as they are).
 */

/** Replaces method `name` of `obj` only; `make` gets the original, bound. */
export function replace<T extends object, K extends keyof T>(obj: T, name: K, make: (original: T[K]) => T[K]): void {
  const original = (obj[name] as (...args: unknown[]) => unknown).bind(obj) as T[K];
  obj[name] = make(original);
}
