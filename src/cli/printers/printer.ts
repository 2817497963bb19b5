import type {
  DeleteRangeResponse,
  PutResponse,
  RangeResponse,
  TxnResponse,
} from '../../proto/gen/etcdserverpb/rpc.js';
import { CliError, ExitCode } from '../errors.js';

/** The output formats of etcdctl's -w / --write-out. */
export const outputFormats = ['simple', 'json', 'fields', 'table', 'protobuf'] as const;
export type OutputFormat = (typeof outputFormats)[number];

export function isOutputFormat(name: string): name is OutputFormat {
  return (outputFormats as readonly string[]).includes(name);
}

/** Where a printer writes: raw bytes, because keys and values are bytes. */
export interface Sink {
  write(chunk: string | Uint8Array): void;
}

export interface GetPrintOptions {
  /** --print-value-only: simple output prints values only. */
  valueOnly?: boolean;
  /** --count-only: the response carries only the count. */
  countOnly?: boolean;
}

/**
 * One method per kind of response, one class per output format. The base
 * class answers every method with etcdctl's "<format> not supported as
 * output format" (exit code 4), so a format supports exactly what its class
 * overrides; commands added later add a method here and override it in the
 * formats that print it.
 */
export abstract class Printer {
  abstract readonly format: OutputFormat;

  constructor(protected readonly out: Sink) {}

  put(_r: PutResponse): void {
    this.unsupported();
  }

  get(_r: RangeResponse, _options: GetPrintOptions = {}): void {
    this.unsupported();
  }

  del(_r: DeleteRangeResponse): void {
    this.unsupported();
  }

  txn(_r: TxnResponse): void {
    this.unsupported();
  }

  protected unsupported(): never {
    throw new CliError(`${this.format} not supported as output format`, ExitCode.badFeature);
  }

  protected line(text: string | Uint8Array = ''): void {
    this.out.write(text);
    this.out.write('\n');
  }
}
