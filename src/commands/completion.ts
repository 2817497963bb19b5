import { EtcdCommand } from '../cli/base-command.js';
import { badArgs } from '../cli/errors.js';
import type { ParsedFlags } from '../cli/flags/parser.js';
import { buildModel, type LoadedCommand } from '../cli/completion/model.js';
import { completionScript, shells, type Shell } from '../cli/completion/scripts.js';

export default class Completion extends EtcdCommand {
  static override summary = 'Generates a shell completion script (bash, zsh or fish)';
  static override description = `Prints a script that completes etcdts's commands, subcommands, flags and the
values of flags such as --write-out. The script holds the whole command tree:
completing never runs the CLI. Load it in the current shell, or from your shell's
startup file:

  bash:  source <(etcdts completion bash)         (in ~/.bashrc)
  zsh:   source <(etcdts completion zsh)          (in ~/.zshrc, after compinit)
  fish:  etcdts completion fish | source          (in ~/.config/fish/config.fish)`;
  static override usage = 'completion [bash|zsh|fish]';
  static override examples = [
    'echo \'source <(<%= config.bin %> completion bash)\' >> ~/.bashrc',
    'echo \'source <(<%= config.bin %> completion zsh)\' >> ~/.zshrc',
    '<%= config.bin %> completion fish > ~/.config/fish/completions/<%= config.bin %>.fish',
  ];

  protected async execute(args: string[], _flags: ParsedFlags): Promise<void> {
    if (args.length !== 1 || !shells.includes(args[0] as Shell)) throw badArgs(`completion expects one shell: ${shells.join(', ')}`);
    const commands = this.config.commands as unknown as LoadedCommand[];
    const model = buildModel(this.config.bin, commands, this.config.topics);
    this.stdout.write(completionScript(args[0] as Shell, model));
  }
}
