import assert from 'node:assert/strict';
import { BufferBytes, goTrimSpace, readPasswordLine, scanPasswordWord } from '../../../src/cli/auth/password-input.js';
import { interactiveFlagSpec } from '../../../src/cli/auth/ask-password.js';
import { parseCommandLine } from '../../../src/cli/flags/parser.js';
import { globalFlagSpecs, userFromFlags } from '../../../src/cli/global-flags.js';

const source = (text: string | Buffer): BufferBytes => new BufferBytes(Buffer.from(text));

/** What is left unread after a read (the next reader's input). */
function rest(bytes: BufferBytes): string {
  const left: number[] = [];
  for (let b = bytes.next(); b >= 0; b = bytes.next()) left.push(b);
  return Buffer.from(left).toString('utf8');
}

type Case = [input: string, password: string, left: string];

/** One test per case: `read` gives the password and leaves the rest of the input unread. */
function readsAs(read: (bytes: BufferBytes) => string, cases: readonly Case[]): void {
  for (const [input, password, left] of cases) {
    it(`${JSON.stringify(input)} gives ${JSON.stringify(password)} and leaves ${JSON.stringify(left)}`, () => {
      const bytes = source(input);
      assert.equal(read(bytes), password);
      assert.equal(rest(bytes), left);
    });
  }
}

describe('passwords read from stdin (not a terminal), as etcdctl 3.4.23 reads them', () => {
  describe('a prompt reads one line (speakeasy), white space trimmed', () => {
    readsAs(readPasswordLine, [
      ['p1\np1\n', 'p1', 'p1\n'],
      ['  spaced pw  \n  spaced pw\n', 'spaced pw', '  spaced pw\n'],
      ['pw\r\nnext', 'pw', 'next'],
      ['last line without newline', 'last line without newline', ''],
      ['\n', '', ''],
      ['', '', ''],
      ['\u00a0pw\u3000\n', 'pw', ''],
    ]);
  });

  describe('--interactive=false reads one word (fmt.Scanf("%s"))', () => {
    readsAs(scanPasswordWord, [
      ['tok rest\n', 'tok', 'rest\n'],
      ['   lead\n', 'lead', ''],
      ['\t\tpw\nrootpw\n', 'pw', 'rootpw\n'],
      ['\nx\n', '', 'x\n'],
      ['\r\nx', '', 'x'],
      ['  \n', '', ''],
      ['', '', ''],
      ['a\u00a0b', 'a', 'b'],
      ['pässwörd', 'pässwörd', ''],
    ]);

    it('then a prompt reads the next line: `--user root user add bob --interactive=false`', () => {
      const bytes = source('new-pw\nroot-pw\n');
      assert.deepEqual([scanPasswordWord(bytes), readPasswordLine(bytes)], ['new-pw', 'root-pw']);
    });
  });

  it('trims Unicode white space as Go does, and never an invalid byte', () => {
    assert.deepEqual(goTrimSpace(Buffer.from('\u2028\u0085 x y \u200a\t')), Buffer.from('x y'));
    assert.deepEqual(goTrimSpace(Buffer.from([0x20, 0xff, 0x20])), Buffer.from([0xff]));
    assert.deepEqual(goTrimSpace(Buffer.from([0x20, 0xc2])), Buffer.from([0xc2]));
    assert.deepEqual(goTrimSpace(Buffer.from('   ')), Buffer.alloc(0));
  });
});

describe('--user and --password (etcdctl global.go)', () => {
  const credentials = (argv: string[], prompted?: string): ReturnType<typeof userFromFlags> =>
    userFromFlags(parseCommandLine(argv, [...globalFlagSpecs, interactiveFlagSpec]).flags, prompted);

  it('splits name:password at the first colon', () => {
    assert.deepEqual(credentials(['--user', 'root:p:w']), { username: 'root', password: 'p:w' });
  });

  it('with --password, the whole of --user is the name', () => {
    assert.deepEqual(credentials(['--user', 'a:b', '--password', 'pw']), { username: 'a:b', password: 'pw' });
  });

  it('takes the prompted password when --user has none', () => {
    assert.deepEqual(credentials(['--user', 'root'], 'typed'), { username: 'root', password: 'typed' });
  });

  it('sends no credentials when the name or the password is empty (clientv3 authenticates only with both)', () => {
    assert.equal(credentials(['--user', 'root:']), undefined);
    assert.equal(credentials(['--user', ':pw']), undefined);
    assert.equal(credentials(['--user', 'root'], ''), undefined);
    assert.equal(credentials(['--password', 'pw']), undefined);
  });
});
