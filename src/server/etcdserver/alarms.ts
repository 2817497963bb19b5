import { AlarmMember, AlarmType } from '../../proto/gen/etcdserverpb/rpc.js';
import type { Backend } from '../mvcc/backend.js';

/**
 * Raised alarms (etcd's v3alarm store): (member, type) pairs, changed only by
 * applying Alarm requests from the log so every member agrees, persisted in
 * the backend's `alarm` bucket. While NOSPACE is raised the applier refuses
 * writes that would grow the database (see quota.ts).
 */
export class AlarmStore {
  private readonly alarms = new Map<string, AlarmMember>();

  constructor(private readonly backend: Backend) {
    this.reload();
  }

  reload(): void {
    this.alarms.clear();
    this.backend.scan('alarm', undefined, undefined, (_key, value) => {
      const a = AlarmMember.decode(value);
      this.alarms.set(alarmId(a.memberID, a.alarm), a);
    });
  }

  /** Alarms of one type, or all of them for NONE; ordered by member then type. */
  get(type: AlarmType = AlarmType.NONE): AlarmMember[] {
    return [...this.alarms.values()]
      .filter((a) => type === AlarmType.NONE || a.alarm === type)
      .sort((a, b) => (a.memberID !== b.memberID ? (a.memberID < b.memberID ? -1 : 1) : a.alarm - b.alarm));
  }

  has(type: AlarmType): boolean {
    for (const a of this.alarms.values()) if (a.alarm === type) return true;
    return false;
  }

  /** Raises an alarm; returns it (also when it was already raised). */
  activate(memberID: bigint, type: AlarmType): AlarmMember | undefined {
    if (type === AlarmType.NONE) return undefined;
    const alarm: AlarmMember = { memberID, alarm: type };
    const id = alarmId(memberID, type);
    if (!this.alarms.has(id)) {
      this.alarms.set(id, alarm);
      this.backend.put('alarm', alarmKey(memberID, type), Buffer.from(AlarmMember.encode(alarm).finish()));
    }
    return alarm;
  }

  /** Clears an alarm; returns it, or undefined if it was not raised. */
  deactivate(memberID: bigint, type: AlarmType): AlarmMember | undefined {
    const id = alarmId(memberID, type);
    const alarm = this.alarms.get(id);
    if (alarm === undefined) return undefined;
    this.alarms.delete(id);
    this.backend.delete('alarm', alarmKey(memberID, type));
    return alarm;
  }
}

function alarmId(memberID: bigint, type: AlarmType): string {
  return `${memberID}/${type}`;
}

function alarmKey(memberID: bigint, type: AlarmType): Buffer {
  const key = Buffer.alloc(12);
  key.writeBigUInt64BE(memberID, 0);
  key.writeUInt32BE(type, 8);
  return key;
}

/** The text etcd prints for an alarm (the protobuf compact text of AlarmMember). */
export function alarmText(a: AlarmMember): string {
  return `memberID:${a.memberID} alarm:${AlarmType[a.alarm] ?? a.alarm} `;
}
