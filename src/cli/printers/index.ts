import { CliError, ExitCode } from '../errors.js';
import { FieldsPrinter } from './fields.js';
import { JsonPrinter } from './json.js';
import { isOutputFormat, type Printer, type Sink } from './printer.js';
import { SimplePrinter } from './simple.js';

export { Printer, type Sink, type OutputFormat, type GetPrintOptions } from './printer.js';

/**
 * The printer for `-w <format>`; etcdctl's "unsupported output format"
 * (exit 4) for any other name. Table and protobuf printers are imported on
 * demand to keep the common path's start-up short.
 */
export async function createPrinter(format: string, options: { hex: boolean; out: Sink }): Promise<Printer> {
  if (!isOutputFormat(format)) throw new CliError('unsupported output format', ExitCode.badFeature);
  switch (format) {
    case 'simple':
      return new SimplePrinter(options.out, options.hex);
    case 'json':
      return new JsonPrinter(options.out);
    case 'fields':
      return new FieldsPrinter(options.out);
    case 'table': {
      const { TablePrinter } = await import('./table.js');
      return new TablePrinter(options.out, options.hex);
    }
    case 'protobuf': {
      const { ProtobufPrinter } = await import('./protobuf.js');
      return new ProtobufPrinter(options.out);
    }
  }
}
