// Every package as a new user gets it: built, packed with `pnpm pack`, installed from the
// tarballs with npm into a project outside the repository, and used with plain `node`
// (no --conditions, no loaders). Each README example marked `<!-- readme-example -->` runs
// there and must print exactly its README output block, so the docs cannot drift.
import { execFile, type ExecFileException } from 'node:child_process';
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryOf, normalizeOutput, parseReadmeExamples } from '../readme-examples.js';

const root = path.resolve(import.meta.dirname, '../..');
const PNPM = ['-y', 'pnpm@10.34.9'];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; never rejects (the caller asserts on the result). */
function run(cmd: string, args: string[], cwd: string, timeoutMs = 300_000): Promise<Run> {
  // What a user's shell has: no NODE_OPTIONS (vitest's or anyone's) leaking into node.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.NODE_PATH;
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
      (err: ExecFileException | null, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

function failed(what: string, r: Run): Error {
  return new Error(
    `${what} exited with ${r.code}\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
  );
}

/** Public packages: name, directory and README text. */
const packages = readdirSync(path.join(root, 'packages'))
  .map((d) => path.join(root, 'packages', d))
  .map((dir) => ({
    dir,
    manifest: JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      name: string;
      private?: boolean;
    },
  }))
  .filter((p) => !p.manifest.private)
  .map((p) => ({
    name: p.manifest.name,
    dir: p.dir,
    readme: parseReadmeExamples(
      readFileSync(path.join(p.dir, 'README.md'), 'utf8'),
      path.relative(root, path.join(p.dir, 'README.md')),
    ),
  }));

let app = '';
let work = '';

beforeAll(async () => {
  // The tarballs hold dist/: build it (a turbo cache hit when CI built it already).
  const build = await run('npx', [...PNPM, 'build', '--output-logs=errors-only'], root);
  if (build.code !== 0) throw failed('pnpm build', build);
  work = mkdtempSync(path.join(tmpdir(), 'kern-readme-'));
  const tarballs = path.join(work, 'tarballs');
  mkdirSync(tarballs);
  for (const p of packages) {
    const pack = await run('npx', [...PNPM, 'pack', '--pack-destination', tarballs], p.dir);
    if (pack.code !== 0) throw failed(`pnpm pack in ${p.dir}`, pack);
  }
  app = path.join(work, 'app');
  mkdirSync(app);
  writeFileSync(path.join(app, 'package.json'), '{ "name": "readme-app", "private": true }\n');
  const files = readdirSync(tarballs).map((f) => path.join(tarballs, f));
  // Offline: the packages have no third-party dependencies, so nothing comes from a registry.
  const install = await run(
    'npm',
    ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', ...files],
    app,
  );
  if (install.code !== 0) throw failed('npm install of the tarballs', install);
}, 600_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each(packages)('$name README', ({ name, readme }) => {
  it('marks every code block, and every example has its output', () => {
    expect(readme.problems).toEqual([]);
    expect(readme.examples.length).toBeGreaterThan(0);
  });

  it.each(readme.examples)('example $name prints what the README says', async (ex) => {
    const dir = path.join(app, 'examples', name.replace('/', '-'), ex.name);
    mkdirSync(dir, { recursive: true });
    for (const [f, text] of ex.files) writeFileSync(path.join(dir, f), text);
    const r = await run(process.execPath, [entryOf(ex)], dir, 120_000);
    const where = `${name} README example ${ex.name} (line ${ex.line})`;
    expect(r.code, `${where} exited with ${r.code}; stderr:\n${r.stderr}`).toBe(0);
    expect(normalizeOutput(r.stdout), `${where}: stdout`).toBe(normalizeOutput(ex.stdout ?? ''));
    expect(normalizeOutput(r.stderr), `${where}: stderr`).toBe(normalizeOutput(ex.stderr));
  });
});

describe('installed from the tarballs', () => {
  it.each(packages)('require($name) works with plain node, with no warning', async ({ name }) => {
    const script = `const m = require(${JSON.stringify(name)}); const i = Object.keys(m).length; import(${JSON.stringify(name)}).then((e) => { if (Object.keys(e).length !== i || i === 0) { console.log('exports differ'); process.exit(1); } console.log('ok'); });`;
    const r = await run(process.execPath, ['-e', script], app);
    expect(r).toEqual({ code: 0, stdout: 'ok\n', stderr: '' });
  });

  it('isKernelError recognises a KernelError thrown by a second, nested copy of @kern/core', async () => {
    // What npm does when mm needs a @kern/core version the app's own copy does not satisfy.
    const nested = path.join(app, 'node_modules/@kern/mm/node_modules/@kern/core');
    cpSync(path.join(app, 'node_modules/@kern/core'), nested, { recursive: true });
    try {
      const script = [
        "import { KernelError, isKernelError } from '@kern/core';",
        "import { createMemory } from '@kern/mm';",
        "try { createMemory({ size: 'lots' }); } catch (e) {",
        "  console.log(e.constructor === KernelError ? 'same copy' : 'another copy');",
        "  console.log(isKernelError(e), isKernelError(e, 'EINVAL'), e instanceof KernelError);",
        '}',
      ].join('\n');
      const file = path.join(app, 'two-copies.mjs');
      writeFileSync(file, script);
      const r = await run(process.execPath, [file], app);
      expect(r).toEqual({ code: 0, stdout: 'another copy\ntrue true true\n', stderr: '' });
    } finally {
      rmSync(path.join(app, 'node_modules/@kern/mm/node_modules'), {
        recursive: true,
        force: true,
      });
    }
  });
});
