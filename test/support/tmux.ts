import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from './procs.js';

const exec = promisify(execFile);
const tmuxBinary = '/usr/bin/tmux';

export function tmuxAvailable(): boolean {
  return existsSync(tmuxBinary);
}

/**
 * A shell on a pseudo-terminal, driven like a person at a keyboard: tmux
 * runs bash in a detached session on its own server, whose socket is in
 * `home` (so that it never touches anyone's tmux and leaves nothing behind
 * once `home` is removed), `type` sends keys, `screen` is what the terminal
 * shows. Close it with close(), which ends that tmux server.
 */
export class TerminalSession {
  private constructor(private readonly socket: string) {}

  /**
   * A fresh shell without rc files (bash unless `shell` says otherwise, e.g.
   * ['zsh', '-f']), with only PATH, HOME and TERM in its environment.
   */
  static async open(home: string, shellCommand: string[] = ['bash', '--norc', '--noprofile']): Promise<TerminalSession> {
    const session = new TerminalSession(join(home, 'tmux.sock'));
    const shell = ['env', '-i', `PATH=${process.env.PATH ?? '/usr/bin:/bin'}`, `HOME=${home}`, 'TERM=xterm-256color', ...shellCommand];
    await session.tmux('new-session', '-d', '-s', 'main', '-x', '200', '-y', '50', ...shell);
    await session.waitForScreen('the shell prompt', /\$ $|# $/m);
    return session;
  }

  /** Types text literally (no key names), without Enter. */
  async type(text: string): Promise<void> {
    await this.tmux('send-keys', '-t', 'main', '-l', text);
  }

  /** Presses keys by tmux name: Enter, C-c, ... */
  async press(...keys: string[]): Promise<void> {
    await this.tmux('send-keys', '-t', 'main', ...keys);
  }

  /** Types a line and presses Enter. */
  async enter(line: string): Promise<void> {
    await this.type(line);
    await this.press('Enter');
  }

  /** Everything the terminal shows, scrollback included, wrapped lines joined. */
  async screen(): Promise<string> {
    const { stdout } = await this.tmux('capture-pane', '-p', '-J', '-S', '-', '-t', 'main');
    return stdout;
  }

  /** Waits until the screen matches, and returns the match. */
  waitForScreen(what: string, pattern: RegExp, timeoutMs = 20000): Promise<RegExpMatchArray> {
    return waitFor(what, async () => (await this.screen()).match(pattern) ?? undefined, timeoutMs, 50);
  }

  async close(): Promise<void> {
    await this.tmux('kill-server').catch(() => undefined);
  }

  private tmux(...args: string[]): Promise<{ stdout: string; stderr: string }> {
    return exec(tmuxBinary, ['-S', this.socket, ...args]);
  }
}
