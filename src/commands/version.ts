import { EtcdCommand } from '../cli/base-command.js';

/** The etcd API version etcdts speaks. */
export const apiVersion = '3.4';

export default class Version extends EtcdCommand {
  static override summary = 'Prints the version of etcdts';
  static override usage = 'version';
  static override examples = ['<%= config.bin %> version'];

  protected async execute(): Promise<void> {
    this.stdout.write(`etcdts version: ${this.config.version}\n`);
    this.stdout.write(`API version: ${apiVersion}\n`);
  }
}
