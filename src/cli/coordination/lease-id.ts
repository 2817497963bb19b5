import { badArgs } from '../errors.js';
import { goParseInt } from '../go/strconv.js';

/** A lease id argument: hexadecimal, as etcdctl prints and reads them (leaseFromArgs). */
export function leaseIdFromArg(arg: string): bigint {
  try {
    return goParseInt(arg, 16);
  } catch (err) {
    throw badArgs(`bad lease ID arg (${(err as Error).message}), expecting ID in Hex`);
  }
}
