import { allNodes, nodeFlags, valueFlagWords, type CompletionFlag, type CompletionModel, type CompletionNode } from './model.js';

/**
 * The completion scripts, one generator per shell, from the model. Each
 * script finds the command typed so far by walking the words before the
 * cursor (skipping flags and the values of flags that take one, and keeping
 * only words that extend a known command path), then offers that node's
 * subcommands, or its flags after a "-", or a flag's fixed values after it.
 */
export type Shell = 'bash' | 'zsh' | 'fish';
export const shells: readonly Shell[] = ['bash', 'zsh', 'fish'];

export function completionScript(shell: Shell, model: CompletionModel): string {
  switch (shell) {
    case 'bash':
      return bashScript(model);
    case 'zsh':
      return zshScript(model);
    case 'fish':
      return fishScript(model);
  }
}

const functionName = (model: CompletionModel): string => `_${model.bin.replace(/[^A-Za-z0-9_]/g, '_')}_completion`;
const flagWords = (f: CompletionFlag): string[] => [`--${f.name}`, ...(f.char === undefined ? [] : [`-${f.char}`])];
const nodeKey = (node: CompletionNode): string => node.path.join(' ');
/** Single-quoted for sh-family shells (bash and zsh). */
const sq = (text: string): string => `'${text.replace(/'/g, `'\\''`)}'`;
const knownPaths = (model: CompletionModel): string => allNodes(model.root).filter((n) => n.path.length > 0).map((n) => sq(nodeKey(n))).join('|');

/** The loop both sh-family scripts share (bash and zsh differ in how the words are numbered). */
function walkWords(model: CompletionModel, first: string, word: string): string {
  return [
    `  local cmdpath="" word i skip=0`,
    `  for ((i = ${first}; i < cursor; i++)); do`,
    `    word=${word}`,
    `    if ((skip)); then skip=0; continue; fi`,
    `    case "$word" in`,
    `      ${valueFlagWords(model).join('|')}) skip=1; continue ;;`,
    `      -*) continue ;;`,
    `    esac`,
    `    case "\${cmdpath:+$cmdpath }$word" in`,
    `      ${knownPaths(model)}) cmdpath="\${cmdpath:+$cmdpath }$word" ;;`,
    `    esac`,
    `  done`,
  ].join('\n');
}

function valueCases(model: CompletionModel, offer: (values: string[]) => string): string {
  const lines: string[] = [];
  for (const [name, values] of Object.entries(model.flagValues)) {
    const flag = allNodes(model.root).flatMap((n) => nodeFlags(model, n)).find((f) => f.name === name);
    if (flag === undefined) continue;
    lines.push(`    ${flagWords(flag).join('|')}) ${offer(values)}; return ;;`);
  }
  return lines.join('\n');
}

function bashScript(model: CompletionModel): string {
  const fn = functionName(model);
  const cases = allNodes(model.root).map((node) => {
    const subs = node.children.map((c) => c.path.at(-1)!).join(' ');
    const flags = nodeFlags(model, node).flatMap(flagWords).join(' ');
    return `    ${sq(nodeKey(node))}) subs=${sq(subs)}; flags=${sq(flags)} ;;`;
  });
  return `# bash completion for ${model.bin}. Load it with: source <(${model.bin} completion bash)
${fn}() {
  local cursor=$COMP_CWORD cur="\${COMP_WORDS[COMP_CWORD]}"
${walkWords(model, '1', '"${COMP_WORDS[i]}"')}
  case "\${COMP_WORDS[COMP_CWORD-1]}" in
${valueCases(model, (values) => `COMPREPLY=($(compgen -W ${sq(values.join(' '))} -- "$cur"))`)}
  esac
  local subs="" flags=""
  case "$cmdpath" in
${cases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
  else
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
  fi
}
complete -o default -F ${fn} ${model.bin}
`;
}

function zshScript(model: CompletionModel): string {
  const fn = functionName(model);
  const described = (name: string, description: string): string => sq(`${name.replace(/:/g, '\\:')}:${description}`);
  const cases = allNodes(model.root).map((node) => {
    const subs = node.children.map((c) => described(c.path.at(-1)!, c.description)).join(' ');
    const flags = nodeFlags(model, node).flatMap((f) => flagWords(f).map((w) => described(w, f.description))).join(' ');
    return `    ${sq(nodeKey(node))}) subs=(${subs}); flags=(${flags}) ;;`;
  });
  return `#compdef ${model.bin}
# zsh completion for ${model.bin}. Load it with: source <(${model.bin} completion zsh)
# (after compinit: autoload -U compinit && compinit)
${fn}() {
  local cursor=$CURRENT cur="\${words[CURRENT]}"
${walkWords(model, '2', '"${words[i]}"')}
  case "\${words[CURRENT-1]}" in
${valueCases(model, (values) => `compadd -- ${values.join(' ')}`)}
  esac
  local -a subs flags
  case "$cmdpath" in
${cases.join('\n')}
  esac
  if [[ "$cur" == -* ]]; then
    _describe -t flags 'flag' flags
  elif (( \${#subs} > 0 )); then
    _describe -t commands 'command' subs
  else
    _files
  fi
}
compdef ${fn} ${model.bin}
`;
}

function fishScript(model: CompletionModel): string {
  const fq = (text: string): string => `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  const at = `__${model.bin.replace(/[^A-Za-z0-9_]/g, '_')}_at`;
  const walk = `__${model.bin.replace(/[^A-Za-z0-9_]/g, '_')}_path`;
  const lines = [
    `# fish completion for ${model.bin}. Load it with: ${model.bin} completion fish | source`,
    `function ${walk}`,
    `  set -l tokens (commandline -opc)`,
    `  set -e tokens[1]`,
    `  set -l cmdpath ''`,
    `  set -l skip 0`,
    `  for word in $tokens`,
    `    if test $skip -eq 1; set skip 0; continue; end`,
    `    switch $word`,
    `      case ${valueFlagWords(model).map(fq).join(' ')}`,
    `        set skip 1; continue`,
    `      case '-*'`,
    `        continue`,
    `    end`,
    `    set -l candidate (string trim -- "$cmdpath $word")`,
    `    switch $candidate`,
    `      case ${allNodes(model.root).filter((n) => n.path.length > 0).map((n) => fq(nodeKey(n))).join(' ')}`,
    `        set cmdpath $candidate`,
    `    end`,
    `  end`,
    `  echo $cmdpath`,
    `end`,
    `function ${at}`,
    `  test (${walk} | string collect) = "$argv[1]"`,
    `end`,
    `complete -c ${model.bin} -f`,
  ];
  for (const node of allNodes(model.root)) {
    const when = `-n ${fq(`${at} ${fq(nodeKey(node))}`)}`;
    for (const child of node.children) lines.push(`complete -c ${model.bin} ${when} -a ${fq(child.path.at(-1)!)} -d ${fq(child.description)}`);
    for (const f of nodeFlags(model, node)) {
      const values = model.flagValues[f.name];
      const takes = values !== undefined ? ` -xa ${fq(values.join(' '))}` : f.takesValue ? ' -r' : '';
      lines.push(`complete -c ${model.bin} ${when} -l ${f.name}${f.char === undefined ? '' : ` -s ${f.char}`}${takes} -d ${fq(f.description)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
