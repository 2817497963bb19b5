import type { Step } from './cli-harness.js';

/**
 * The authentication scenario of the compatibility matrix: every auth, user
 * and role command with each of its flags and output formats, the global
 * --user/--password flags, and the errors (no such user or role, wrong
 * password, permission denied, authentication not enabled, bad arguments),
 * in an order that walks one server from "no users" through "auth enabled"
 * and back. Each step runs with etcdctl on one server and with the etcdts CLI
 * on another, so the servers evolve the same way only if both tools do the
 * same thing.
 *
 * `prompts` steps feed passwords on stdin: etcdctl also echoes its prompts to
 * stdout there (and stty's complaints to stderr), which we leave out.
 */
const asRoot = { ETCDCTL_USER: 'root:pw' };

const beforeEnabling: Step[] = [
  // auth enable: the root user must exist; its root role is made for it.
  { name: 'auth enable without a root user', args: ['auth', 'enable'] },
  { name: 'auth disable when not enabled', args: ['auth', 'disable'] },
  { name: 'user add name:password', args: ['user', 'add', 'root:pw'] },
  { name: 'auth enable creates and grants the root role', args: ['auth', 'enable'] },
  { name: 'role list as root', args: ['role', 'list', '--user', 'root:pw'] },
  { name: 'auth enable when enabled', args: ['auth', 'enable', '--user', 'root:pw'] },
  { name: 'auth disable as root', args: ['auth', 'disable', '--user', 'root:pw'] },
  { name: 'user revoke-role root root', args: ['user', 'revoke-role', 'root', 'root'] },
  { name: 'auth enable with a root role not granted (etcdctl fails adding it)', args: ['auth', 'enable'] },
  { name: 'user grant-role root root', args: ['user', 'grant-role', 'root', 'root'] },
  { name: 'auth enable with an argument', args: ['auth', 'enable', 'now'] },
  { name: 'auth disable with an argument', args: ['auth', 'disable', 'now'] },
  { name: 'auth enable -w xml', args: ['auth', 'enable', '-w', 'xml'] },
  // user add: every way to give the password
  { name: 'user add an existing user', args: ['user', 'add', 'root:pw'] },
  { name: 'user add --new-user-password -w json', args: ['user', 'add', 'alice', '--new-user-password=a1', '-w', 'json'] },
  { name: 'user add -w fields', args: ['user', 'add', 'bob:b1', '-w', 'fields'] },
  { name: 'user add -w protobuf', args: ['user', 'add', 'carol:c1', '-w', 'protobuf'] },
  { name: 'user add, password and confirmation from stdin', args: ['user', 'add', 'dave'], input: 'd1\nd1\n', compare: 'prompts' },
  { name: 'user add, spaces around the password', args: ['user', 'add', 'dora'], input: '  d o  \n d o\n', compare: 'prompts' },
  { name: 'user add, passwords that differ', args: ['user', 'add', 'erin'], input: 'e1\ne2\n', compare: 'prompts' },
  { name: 'user add, empty password', args: ['user', 'add', 'frank'], input: '\n', compare: 'prompts' },
  { name: 'user add, stdin empty', args: ['user', 'add', 'frank'], compare: 'prompts' },
  { name: 'user add --interactive=false reads a word', args: ['user', 'add', 'gina', '--interactive=false'], input: '  g1 rest\n' },
  { name: 'user add --interactive=false with an empty first line', args: ['user', 'add', 'hal', '--interactive=false'], input: '\nh1\n' },
  { name: 'user add --no-password', args: ['user', 'add', 'nopw', '--no-password'] },
  { name: 'user add --no-password keeps a colon in the name', args: ['user', 'add', 'cn:x', '--no-password', '-w', 'json'] },
  { name: 'user add --new-user-password keeps a colon in the name', args: ['user', 'add', 'with:colon', '--new-user-password', 'x'] },
  { name: 'user add an empty name', args: ['user', 'add', ':x'] },
  { name: 'user add an empty name with --new-user-password', args: ['user', 'add', '', '--new-user-password', 'x'] },
  { name: 'user add without arguments', args: ['user', 'add'] },
  { name: 'user add with two arguments', args: ['user', 'add', 'a', 'b'] },
  { name: 'user add -w xml', args: ['user', 'add', 'x:y', '-w', 'xml'] },
  // user list / get
  { name: 'user list', args: ['user', 'list'] },
  { name: 'user list -w json', args: ['user', 'list', '-w', 'json'] },
  { name: 'user list -w protobuf', args: ['user', 'list', '-w', 'protobuf'] },
  { name: 'user list with an argument', args: ['user', 'list', 'x'] },
  { name: 'user get', args: ['user', 'get', 'alice'] },
  { name: 'user get -w json', args: ['user', 'get', 'alice', '-w', 'json'] },
  { name: 'user get -w protobuf', args: ['user', 'get', 'alice', '-w', 'protobuf'] },
  { name: 'user get a missing user', args: ['user', 'get', 'nobody'] },
  { name: 'user get without arguments', args: ['user', 'get'] },
  // role add
  { name: 'role add root, which auth enable made', args: ['role', 'add', 'root'] },
  { name: 'role add -w json', args: ['role', 'add', 'r1', '-w', 'json'] },
  { name: 'role add -w fields', args: ['role', 'add', 'r2', '-w', 'fields'] },
  { name: 'role add -w protobuf', args: ['role', 'add', 'r3', '-w', 'protobuf'] },
  { name: 'role add a name Go escapes in JSON', args: ['role', 'add', 'r<&>"é'] },
  { name: 'role add reader', args: ['role', 'add', 'reader'] },
  { name: 'role add an existing role', args: ['role', 'add', 'r1'] },
  { name: 'role add an empty name', args: ['role', 'add', ''] },
  { name: 'role add without arguments', args: ['role', 'add'] },
  // role grant-permission: every kind of range, every type
  { name: 'grant read on a key', args: ['role', 'grant-permission', 'r1', 'read', 'k1'] },
  { name: 'grant write on a range -w json', args: ['role', 'grant-permission', 'r1', 'write', 'k2', 'k5', '-w', 'json'] },
  { name: 'grant readwrite on a prefix -w fields', args: ['role', 'grant-permission', 'r1', 'readwrite', '--prefix', 'p/', '-w', 'fields'] },
  { name: 'grant READ from a key -w protobuf', args: ['role', 'grant-permission', 'r1', 'READ', '--from-key', 'z', '-w', 'protobuf'] },
  { name: 'grant read on the empty prefix', args: ['role', 'grant-permission', 'r1', 'read', '--prefix', ''] },
  { name: 'grant write on the empty key', args: ['role', 'grant-permission', 'r1', 'write', ''] },
  { name: 'grant write on a multi-byte prefix', args: ['role', 'grant-permission', 'r2', 'write', '--prefix', 'é'] },
  { name: 'grant read --from-key of the empty key', args: ['role', 'grant-permission', 'r2', 'read', '--from-key', ''] },
  { name: 'grant the reader its prefix', args: ['role', 'grant-permission', 'reader', 'read', '--prefix', 'app/'] },
  { name: 'grant an unknown type', args: ['role', 'grant-permission', 'r1', 'rw', 'k'] },
  { name: 'grant without a key', args: ['role', 'grant-permission', 'r1', 'read'] },
  { name: 'grant a range with --prefix', args: ['role', 'grant-permission', 'r1', 'read', 'a', 'b', '--prefix'] },
  { name: 'grant a range with --from-key', args: ['role', 'grant-permission', 'r1', 'read', 'a', 'b', '--from-key'] },
  { name: 'grant --prefix --from-key', args: ['role', 'grant-permission', 'r1', 'read', 'a', '--prefix', '--from-key'] },
  { name: 'grant --prefix --from-key of the empty key', args: ['role', 'grant-permission', 'r1', 'read', '', '--prefix', '--from-key'] },
  { name: 'grant to a missing role', args: ['role', 'grant-permission', 'nor', 'read', 'k'] },
  // role get / list
  { name: 'role get', args: ['role', 'get', 'r1'] },
  { name: 'role get -w json', args: ['role', 'get', 'r1', '-w', 'json'] },
  { name: 'role get -w fields', args: ['role', 'get', 'r1', '-w', 'fields'] },
  { name: 'role get -w protobuf', args: ['role', 'get', 'r1', '-w', 'protobuf'] },
  { name: 'role get a multi-byte prefix and a whole-keyspace range', args: ['role', 'get', 'r2'] },
  { name: 'role get a missing role', args: ['role', 'get', 'nor'] },
  { name: 'role get without arguments', args: ['role', 'get'] },
  { name: 'role list', args: ['role', 'list'] },
  { name: 'role list -w json', args: ['role', 'list', '-w', 'json'] },
  { name: 'role list -w fields', args: ['role', 'list', '-w', 'fields'] },
  { name: 'role list -w protobuf', args: ['role', 'list', '-w', 'protobuf'] },
  { name: 'role list with an argument', args: ['role', 'list', 'x'] },
  // user grant-role / revoke-role, get --detail
  { name: 'user grant-role', args: ['user', 'grant-role', 'alice', 'r1'] },
  { name: 'user grant-role -w json', args: ['user', 'grant-role', 'alice', 'r2', '-w', 'json'] },
  { name: 'user grant-role again', args: ['user', 'grant-role', 'alice', 'r1'] },
  { name: 'user grant-role the reader', args: ['user', 'grant-role', 'dave', 'reader'] },
  { name: 'user grant-role a missing role', args: ['user', 'grant-role', 'bob', 'nor'] },
  { name: 'user grant-role to a missing user', args: ['user', 'grant-role', 'nob', 'r1'] },
  { name: 'user grant-role with one argument', args: ['user', 'grant-role', 'bob'] },
  { name: 'user get with roles', args: ['user', 'get', 'alice'] },
  { name: 'user get --detail', args: ['user', 'get', 'alice', '--detail'] },
  { name: 'user get --detail -w json', args: ['user', 'get', 'alice', '--detail', '-w', 'json'] },
  { name: 'user get --detail -w fields', args: ['user', 'get', 'alice', '--detail', '-w', 'fields'] },
  { name: 'user get --detail -w protobuf', args: ['user', 'get', 'alice', '--detail', '-w', 'protobuf'] },
  { name: 'user revoke-role -w fields', args: ['user', 'revoke-role', 'alice', 'r2', '-w', 'fields'] },
  { name: 'user revoke-role a role not granted', args: ['user', 'revoke-role', 'alice', 'r2'] },
  { name: 'user revoke-role with one argument', args: ['user', 'revoke-role', 'alice'] },
  // role revoke-permission
  { name: 'revoke a key', args: ['role', 'revoke-permission', 'r1', 'k1'] },
  { name: 'revoke a range -w json', args: ['role', 'revoke-permission', 'r1', 'k2', 'k5', '-w', 'json'] },
  { name: 'revoke a prefix', args: ['role', 'revoke-permission', 'r1', '--prefix', 'p/'] },
  { name: 'revoke from a key', args: ['role', 'revoke-permission', 'r1', '--from-key', 'z'] },
  { name: 'revoke the empty prefix', args: ['role', 'revoke-permission', 'r1', '--prefix', ''] },
  { name: 'revoke the empty key', args: ['role', 'revoke-permission', 'r1', ''] },
  { name: 'revoke a multi-byte prefix', args: ['role', 'revoke-permission', 'r2', 'é', '--prefix'] },
  { name: 'revoke a permission not granted', args: ['role', 'revoke-permission', 'r1', 'nothere'] },
  { name: 'revoke without a key', args: ['role', 'revoke-permission', 'r1'] },
  { name: 'revoke a range with --prefix', args: ['role', 'revoke-permission', 'r1', 'a', 'b', '--prefix'] },
  { name: 'role get after the revocations', args: ['role', 'get', 'r1'] },
  // user passwd
  { name: 'user passwd --interactive=false', args: ['user', 'passwd', 'carol', '--interactive=false'], input: 'c2\n' },
  { name: 'user passwd, password and confirmation from stdin', args: ['user', 'passwd', 'carol', '-w', 'json'], input: 'c3\nc3\n', compare: 'prompts' },
  { name: 'user passwd, passwords that differ', args: ['user', 'passwd', 'carol'], input: 'x\ny\n', compare: 'prompts' },
  { name: 'user passwd a missing user', args: ['user', 'passwd', 'nobody', '--interactive=false'], input: 'x\n' },
  { name: 'user passwd without arguments', args: ['user', 'passwd'] },
  // delete
  { name: 'user delete', args: ['user', 'delete', 'bob'] },
  { name: 'user delete -w protobuf', args: ['user', 'delete', 'hal', '-w', 'protobuf'] },
  { name: 'user delete a missing user', args: ['user', 'delete', 'bob'] },
  { name: 'user delete without arguments', args: ['user', 'delete'] },
  { name: 'role delete -w json', args: ['role', 'delete', 'r3', '-w', 'json'] },
  { name: 'role delete a name Go escapes', args: ['role', 'delete', 'r<&>"é'] },
  { name: 'role delete a missing role', args: ['role', 'delete', 'r3'] },
  { name: 'role delete without arguments', args: ['role', 'delete'] },
  // --user against a cluster without authentication: the credentials are not checked.
  { name: '--user with a wrong password, auth disabled', args: ['user', 'list', '--user', 'root:bad'] },
  { name: 'put a key for the reader', args: ['put', 'app/x', 'v1'] },
];

const withAuthEnabled: Step[] = [
  { name: 'auth enable -w json (still one line)', args: ['auth', 'enable', '-w', 'json'] },
  // --user and --password, and ETCDCTL_USER / ETCDCTL_PASSWORD
  { name: 'get with --user name:password', args: ['get', 'foo', '--user', 'root:pw'] },
  { name: 'get with --user and --password', args: ['get', 'foo', '--user', 'root', '--password', 'pw', '-w', 'json'] },
  { name: 'get with ETCDCTL_USER', args: ['get', 'foo'], env: asRoot },
  { name: 'get with ETCDCTL_USER and ETCDCTL_PASSWORD', args: ['get', 'app/x'], env: { ETCDCTL_USER: 'dave', ETCDCTL_PASSWORD: 'd1' } },
  { name: 'get with --user, the password from stdin', args: ['get', 'app/x', '--user', 'dave'], input: 'd1\n', compare: 'prompts' },
  { name: 'get with --user and nothing on stdin', args: ['get', 'app/x', '--user', 'dave'], compare: 'prompts' },
  { name: 'user add reads its password, then --user reads root\'s', args: ['user', 'add', 'ivan', '--interactive=false', '--user', 'root'], input: 'i1\npw\n', compare: 'prompts' },
  { name: 'a user whose password was trimmed', args: ['user', 'get', 'dora', '--user', 'dora:d o'] },
  { name: 'a user whose password was a word of stdin', args: ['user', 'get', 'gina', '--user', 'gina:g1'] },
  { name: 'a user whose password was changed', args: ['user', 'get', 'carol', '--user', 'carol:c3', '-w', 'json'] },
  { name: 'a user whose password was set with a --user prompt', args: ['user', 'get', 'ivan', '--user', 'ivan:i1'] },
  // errors
  { name: 'without a user', args: ['get', 'foo'] },
  { name: 'user list without a user', args: ['user', 'list'] },
  { name: 'a wrong password (exit 2)', args: ['put', 'foo', 'x', '--user', 'root:bad'] },
  { name: 'an unknown user (exit 2)', args: ['get', 'foo', '--user', 'nobody:x'] },
  // etcd answers "password was given for no password user", telling a guesser that the user exists
  // and has no password; etcdts answers as to any failed login (same exit code).
  {
    name: 'a --no-password user cannot use a password', args: ['get', 'foo', '--user', 'nopw:x'],
    etcdtsStderr: 'Error: etcdserver: authentication failed, invalid user ID or password\n',
  },
  { name: 'an empty password means no user', args: ['get', 'foo', '--user', 'dave:'] },
  { name: 'the old password after passwd', args: ['get', 'app/x', '--user', 'carol:c1'] },
  { name: 'read inside the granted prefix', args: ['get', 'app/x', '--user', 'dave:d1'] },
  { name: 'read outside the granted prefix', args: ['get', 'foo', '--user', 'dave:d1'] },
  { name: 'write inside a read-only prefix', args: ['put', 'app/x', 'v2', '--user', 'dave:d1'] },
  { name: 'user list needs root', args: ['user', 'list', '--user', 'dave:d1'] },
  { name: 'a user may see a role it has', args: ['role', 'get', 'reader', '--user', 'dave:d1'] },
  { name: 'a user may see itself', args: ['user', 'get', 'dave', '--user', 'dave:d1'] },
  { name: 'auth disable needs root', args: ['auth', 'disable', '--user', 'dave:d1'] },
  { name: 'user add needs root', args: ['user', 'add', 'x:y', '--user', 'dave:d1'] },
  // administration as root while enabled
  { name: 'user list as root', args: ['user', 'list'], env: asRoot },
  { name: 'user get --detail as root', args: ['user', 'get', 'dave', '--detail'], env: asRoot },
  { name: 'role revoke-permission as root', args: ['role', 'revoke-permission', 'reader', '--prefix', 'app/'], env: asRoot },
  { name: 'the revocation takes effect', args: ['get', 'app/x', '--user', 'dave:d1'] },
  { name: 'user delete as root', args: ['user', 'delete', 'gina'], env: asRoot },
  { name: 'a deleted user cannot authenticate', args: ['get', 'app/x', '--user', 'gina:g1'] },
  { name: 'user revoke-role root from root is refused', args: ['user', 'revoke-role', 'root', 'root'], env: asRoot },
  { name: 'user delete root is refused', args: ['user', 'delete', 'root'], env: asRoot },
  { name: 'auth disable as root', args: ['auth', 'disable'], env: asRoot },
  { name: 'no user needed once disabled', args: ['get', 'app/x'] },
];

export const authSteps: Step[] = [...beforeEnabling, ...withAuthEnabled];
