import { globalFlagSpecs } from '../global-flags.js';

/**
 * What the completion scripts complete, taken from the commands oclif
 * loaded (its manifest): the command tree with topics as words ("member
 * list"), each command's flags, and the few flags whose values are a fixed
 * list. The shell scripts (bash.ts, zsh.ts, fish.ts) are generated from it
 * and contain everything: completing never runs etcdts.
 */
export interface CompletionFlag {
  name: string;
  char?: string;
  takesValue: boolean;
  description: string;
}

export interface CompletionNode {
  /** Words from the root: [] for etcdts itself, ['member'], ['member', 'list'] ... */
  path: string[];
  description: string;
  /** Set on runnable commands; topics have none of their own. */
  flags?: CompletionFlag[];
  children: CompletionNode[];
}

export interface CompletionModel {
  bin: string;
  root: CompletionNode;
  globalFlags: CompletionFlag[];
  /** Flag name -> the values it takes. */
  flagValues: Record<string, string[]>;
}

/** Flags whose values are a closed list, as etcdctl documents them. */
export const flagValues: Record<string, string[]> = {
  'write-out': ['simple', 'json', 'fields', 'table', 'protobuf'],
  consistency: ['l', 's'],
  order: ['ASCEND', 'DESCEND'],
  'sort-by': ['CREATE', 'KEY', 'MODIFY', 'VALUE', 'VERSION'],
  format: ['etcd'],
};

/** The part of an oclif command (Command.Loadable) the model reads. */
export interface LoadedCommand {
  id: string;
  hidden?: boolean;
  summary?: string;
  description?: string;
  flags: Record<string, { name?: string; char?: string; type: 'boolean' | 'option'; description?: string; hidden?: boolean }>;
}

export interface TopicInfo {
  name: string;
  description?: string;
}

export function buildModel(bin: string, commands: LoadedCommand[], topics: TopicInfo[]): CompletionModel {
  const root: CompletionNode = { path: [], description: '', children: [] };
  const topicDescriptions = new Map(topics.map((t) => [t.name, t.description ?? '']));
  for (const command of [...commands].sort((a, b) => a.id.localeCompare(b.id))) {
    if (command.hidden === true) continue;
    const words = command.id.split(':');
    let node = root;
    for (let i = 0; i < words.length; i++) {
      const path = words.slice(0, i + 1);
      let child = node.children.find((c) => c.path[i] === words[i]);
      if (child === undefined) {
        child = { path, description: topicDescriptions.get(path.join(':')) ?? '', children: [] };
        node.children.push(child);
      }
      node = child;
    }
    node.description = firstLine(command.summary ?? command.description ?? '');
    node.flags = Object.entries(command.flags)
      .filter(([, f]) => f.hidden !== true)
      .map(([name, f]) => ({ name, char: f.char, takesValue: f.type === 'option', description: firstLine(f.description ?? '') }));
  }
  const globalNames = new Set(globalFlagSpecs.filter((s) => s.hidden !== true).map((s) => s.name));
  const globalFlags = globalFlagSpecs.filter((s) => globalNames.has(s.name)).map((s) => ({ name: s.name, char: s.short, takesValue: s.kind !== 'bool', description: firstLine(s.description) }));
  return { bin, root, globalFlags, flagValues };
}

/** Every node of the tree, depth first, the root first. */
export function allNodes(node: CompletionNode): CompletionNode[] {
  return [node, ...node.children.flatMap(allNodes)];
}

/** The flags offered after a node's words: its own (globals included), or the global ones for a topic. */
export function nodeFlags(model: CompletionModel, node: CompletionNode): CompletionFlag[] {
  return node.flags ?? model.globalFlags;
}

/** Flags that take a value, as they are typed: --name and -c. */
export function valueFlagWords(model: CompletionModel): string[] {
  const words = new Set<string>();
  for (const node of allNodes(model.root)) {
    for (const f of nodeFlags(model, node)) {
      if (!f.takesValue) continue;
      words.add(`--${f.name}`);
      if (f.char !== undefined) words.add(`-${f.char}`);
    }
  }
  return [...words].sort();
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}
