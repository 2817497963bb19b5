/**
 * Loaded with `node --import` by scenario-mutants.test.ts: switches the
 * commit-old-term bug on in every Raft node of the process, so that the
 * scripted scenario tests of test/unit/raft run against it.
 */
import { RaftLog } from '../../src/server/raft/raft-log.js';
import { Raft } from '../../src/server/raft/raft.js';
import { commitOldTerm } from './raft-mutations.js';

commitOldTerm(RaftLog.prototype, Raft.prototype);
