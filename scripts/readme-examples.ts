/**
 * The runnable examples of a package README and the output each must print.
 *
 * A README marks each code block with an HTML comment on the line before its fence
 * (blank lines between are allowed):
 *
 * - `<!-- readme-example: NAME -->` — the program `NAME` (its `main.mjs`), run with plain
 *   `node` from the packed tarball; `<!-- readme-example: NAME/FILE -->` adds another
 *   file (`reader.mjs`, or `main.cjs` for a CommonJS program);
 * - `<!-- readme-output: NAME -->` — what `NAME` prints on stdout, exactly (trailing
 *   spaces and trailing blank lines aside);
 * - `<!-- readme-stderr: NAME -->` — what it prints on stderr (absent: nothing);
 * - `<!-- readme-fragment -->` — a block that is not a whole program and is not run.
 *
 * Every JavaScript or TypeScript block must carry one of these, so an example cannot
 * silently drop out of the check. Shell and text blocks need none.
 */

/** One program of a README. */
export interface ReadmeExample {
  /** The name after `readme-example:`. */
  readonly name: string;
  /** Line (1-based) of its first marker, for messages. */
  readonly line: number;
  /** File name → contents; the entry is `main.mjs` or `main.cjs`. */
  readonly files: Map<string, string>;
  /** Expected stdout, or undefined if the README gives none (a problem). */
  stdout?: string;
  /** Expected stderr ('' if the README gives none). */
  stderr: string;
}

/** The examples of one README and what is wrong with its markers. */
export interface ParsedReadme {
  readonly examples: ReadmeExample[];
  readonly problems: string[];
}

const MARKER =
  /^<!--\s*readme-(example|output|stderr|fragment)(?::\s*([\w.-]+(?:\/[\w.-]+)?))?\s*-->\s*$/;
const CODE_LANGS = new Set(['js', 'javascript', 'mjs', 'cjs', 'ts', 'typescript', 'tsx', 'jsx']);

/** Splits a README into its marked examples; `file` names it in problems. */
export function parseReadmeExamples(text: string, file: string): ParsedReadme {
  const lines = text.split('\n');
  const examples = new Map<string, ReadmeExample>();
  const problems: string[] = [];
  let pending: { kind: string; arg: string | undefined; line: number } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const m = MARKER.exec(line.trim());
    if (m) {
      if (pending) problems.push(`${file}:${pending.line}: marker not followed by a code block`);
      pending = { kind: m[1]!, arg: m[2], line: i + 1 };
      if (pending.kind !== 'fragment' && pending.arg === undefined)
        problems.push(`${file}:${i + 1}: readme-${pending.kind} needs a name`);
      continue;
    }
    const fence = /^(`{3,}|~{3,})\s*([\w-]*)/.exec(line);
    if (!fence) {
      if (pending && line.trim() !== '') {
        problems.push(`${file}:${pending.line}: marker not followed by a code block`);
        pending = null;
      }
      continue;
    }
    const open = fence[1]!;
    const lang = fence[2]!.toLowerCase();
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = lines[j]!.trimEnd();
      if (close.startsWith(open[0]!.repeat(open.length)) && /^(`+|~+)$/.test(close)) break;
      body.push(lines[j]!);
    }
    if (j === lines.length) problems.push(`${file}:${i + 1}: code block never closed`);
    const content = body.join('\n');
    const at = i + 1;
    i = j;
    if (!pending) {
      if (CODE_LANGS.has(lang))
        problems.push(
          `${file}:${at}: \`\`\`${lang} block has no marker: put <!-- readme-example: NAME --> (run and checked) or <!-- readme-fragment --> (not run) on the line before it`,
        );
      continue;
    }
    const { kind, arg, line: markerLine } = pending;
    pending = null;
    if (kind === 'fragment' || arg === undefined) continue;
    const [name, fileName] = kind === 'example' ? splitName(arg) : [arg, undefined];
    let ex = examples.get(name);
    if (kind === 'example') {
      if (!ex) {
        ex = { name, line: markerLine, files: new Map(), stderr: '' };
        examples.set(name, ex);
      }
      const f = fileName ?? 'main.mjs';
      if (ex.files.has(f)) problems.push(`${file}:${at}: example ${name} has ${f} twice`);
      ex.files.set(f, content);
    } else if (!ex) {
      problems.push(`${file}:${at}: readme-${kind}: ${name} comes before its example`);
    } else if (kind === 'output') {
      ex.stdout = content;
    } else {
      ex.stderr = content;
    }
  }
  if (pending) problems.push(`${file}:${pending.line}: marker not followed by a code block`);
  for (const ex of examples.values()) {
    if (ex.stdout === undefined)
      problems.push(
        `${file}:${ex.line}: example ${ex.name} has no <!-- readme-output: ${ex.name} -->`,
      );
    const entries = ['main.mjs', 'main.cjs'].filter((f) => ex.files.has(f));
    if (entries.length !== 1)
      problems.push(
        `${file}:${ex.line}: example ${ex.name} needs exactly one main.mjs or main.cjs`,
      );
  }
  return { examples: [...examples.values()], problems };
}

function splitName(arg: string): [string, string | undefined] {
  const slash = arg.indexOf('/');
  return slash < 0 ? [arg, undefined] : [arg.slice(0, slash), arg.slice(slash + 1)];
}

/** Output as compared: trailing spaces of each line and trailing blank lines dropped. */
export function normalizeOutput(s: string): string {
  return s
    .split('\n')
    .map((l) => l.trimEnd())
    .join('\n')
    .replace(/\n+$/, '');
}

/** The entry file of an example (`main.mjs` or `main.cjs`). */
export function entryOf(ex: ReadmeExample): string {
  return ex.files.has('main.cjs') ? 'main.cjs' : 'main.mjs';
}
