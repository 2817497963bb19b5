import assert from 'node:assert/strict';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { runJs } from '../support/etcdts.js';
import { removeTempDirs, run, tempDir } from '../support/procs.js';
import { TerminalSession, tmuxAvailable } from '../support/tmux.js';

/**
 * `etcdts completion bash|zsh` loaded into a real shell on a pseudo-terminal
 * (tmux) and driven with the Tab key: commands, topic subcommands, flags and
 * flag values complete. The scripts hold the command tree, so completing
 * never runs etcdts. fish answers `complete -C` without a terminal. Without
 * tmux, zsh or fish the tests fail rather than skip (CI installs them).
 */
const zshBinary = '/usr/bin/zsh';
const fishBinary = '/usr/bin/fish';

describe('shell completion', function () {
  this.timeout(60000);
  let terminal: TerminalSession | undefined;

  after(removeTempDirs);
  afterEach(async () => {
    await terminal?.close();
    terminal = undefined;
  });

  /** A home with `etcdts` on PATH (a link to bin/run.js), as after `npm install -g`. */
  function home(): { dir: string; path: string } {
    const dir = tempDir('completion-');
    mkdirSync(join(dir, 'bin'));
    symlinkSync(runJs, join(dir, 'bin', 'etcdts'));
    return { dir, path: `${join(dir, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}` };
  }

  /** Types `line`, presses Tab (twice for a list), and waits for the screen to show `expected` on the last prompt line. */
  async function complete(t: TerminalSession, line: string, expected: RegExp, tabs = 1): Promise<void> {
    await t.press('C-u');
    await t.type(line);
    for (let i = 0; i < tabs; i++) await t.press('Tab');
    await t.waitForScreen(`completion of "${line}"`, expected, 10000);
  }

  /** `list` is how the shell shows the choices after `etcdts cluster ` (bash: names on a line; zsh: one per line, described). */
  async function drive(t: TerminalSession, list: { pattern: RegExp; tabs: number }): Promise<void> {
    await complete(t, 'etcdts snap', /etcdts snapshot +$/m);
    await complete(t, 'etcdts snapshot st', /etcdts snapshot status +$/m);
    await complete(t, 'etcdts memb', /etcdts member +$/m);
    await complete(t, 'etcdts get --pre', /etcdts get --prefix +$/m);
    await complete(t, 'etcdts put --prev', /etcdts put --prev-kv +$/m);
    await complete(t, 'etcdts get foo -w js', /etcdts get foo -w json +$/m);
    await complete(t, 'etcdts --endpoints=x clus', /etcdts --endpoints=x cluster +$/m);
    await complete(t, 'etcdts cluster ', list.pattern, list.tabs);
    await complete(t, 'etcdts snapshot save --for', /etcdts snapshot save --format +$/m);
  }

  it('bash: source <(etcdts completion bash), then Tab completes commands, subcommands, flags and values', async () => {
    assert.ok(tmuxAvailable(), 'tmux is needed (CI installs it)');
    const h = home();
    const t = (terminal = await TerminalSession.open(h.dir));
    await t.enter(`export PATH=${h.path}; source <(etcdts completion bash) && echo loaded-ok`);
    await t.waitForScreen('the script to load', /^loaded-ok$/m);
    await drive(t, { pattern: /down\s+kill\s+start\s+status\s+up/, tabs: 2 });
  });

  it('zsh: source <(etcdts completion zsh) after compinit, then Tab completes the same', async () => {
    assert.ok(tmuxAvailable(), 'tmux is needed (CI installs it)');
    assert.ok(existsSync(zshBinary), 'zsh is needed (CI installs it)');
    const h = home();
    const t = (terminal = await TerminalSession.open(h.dir, [zshBinary, '-f']));
    await t.enter(`export PATH=${h.path}; autoload -U compinit && compinit -u && source <(etcdts completion zsh) && echo loaded-ok`);
    await t.waitForScreen('the script to load', /^loaded-ok$/m);
    await drive(t, { pattern: /^down +-- Stops every member[\s\S]*^up +-- Starts a local cluster/m, tabs: 1 });
  });

  it('fish: etcdts completion fish | source, then complete -C gives commands, subcommands, flags and values', async () => {
    assert.ok(existsSync(fishBinary), 'fish is needed (CI installs it)');
    const h = home();
    const cases: Array<[string, RegExp]> = [
      ['etcdts memb', /^member\tMembership related commands$/m],
      ['etcdts member l', /^list\tLists all members in the cluster$/m],
      ['etcdts get --pre', /^--prefix\tGet keys with matching prefix$/m],
      ['etcdts get foo -w j', /^json\t/m],
      ['etcdts snapshot save --format ', /^etcd(\t|$)/m],
      ['etcdts --endpoints x cluster ', /^down\t[^\n]*\nkill\t[^\n]*\nstart\t[^\n]*\nstatus\t[^\n]*\nup\t/m],
    ];
    const script = cases.map(([line]) => `complete -C ${JSON.stringify(line)}; echo '=='`).join('; ');
    const r = await run(fishBinary, ['--no-config', '-c', `etcdts completion fish | source; ${script}`], { env: { PATH: h.path, HOME: h.dir } });
    assert.equal(r.code, 0, r.stderr);
    const answers = r.stdout.split('==\n');
    cases.forEach(([line, expected], i) => assert.match(answers[i]!, expected, line));
  });

  it('refuses an unknown shell with exit 128; every script parses in its shell', async () => {
    const bad = await run(process.execPath, [runJs, 'completion', 'tcsh']);
    assert.deepEqual({ code: bad.code, stderr: bad.stderr }, { code: 128, stderr: 'Error: completion expects one shell: bash, zsh, fish\n' });
    const dir = tempDir('completion-syntax-');
    for (const [shell, check] of [['bash', ['bash', '-n']], ['zsh', [zshBinary, '-n']], ['fish', [fishBinary, '-n']]] as const) {
      const script = await run(process.execPath, [runJs, 'completion', shell]);
      assert.equal(script.code, 0, script.stderr);
      const file = join(dir, `completion.${shell}`);
      await import('node:fs/promises').then((fs) => fs.writeFile(file, script.stdout));
      const parsed = await run(check[0], [...check.slice(1), file]);
      assert.equal(parsed.code, 0, `${shell}: ${parsed.stderr}`);
    }
  });
});
