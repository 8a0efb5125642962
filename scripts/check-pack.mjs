// Packs every public package the way `pnpm publish` would and checks that it ships
// dist/ with types and nothing else, that it works from npm (internal dependencies as
// ranges that dedupe, every runtime dependency imported and every import declared,
// `node:` builtins, a `default` export condition for require(), no scripts, repository
// links, README links that resolve off the repository, monorepo-only commands only in a
// "from a clone" part), then runs publint on it.
import { execFileSync } from 'node:child_process';
import { builtinModules } from 'node:module';
import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const pnpm = (args, cwd) =>
  execFileSync('npx', ['-y', 'pnpm@10.34.9', ...args], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
const allowed = (f) =>
  f === 'package.json' || f === 'README.md' || f === 'LICENSE' || f.startsWith('dist/');
let failures = 0;
for (const dir of ['packages', 'apps'].flatMap((d) =>
  existsSync(path.join(root, d))
    ? readdirSync(path.join(root, d)).map((n) => path.join(root, d, n))
    : [],
)) {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
  if (manifest.private) continue;
  const out = mkdtempSync(path.join(tmpdir(), 'kern-pack-'));
  pnpm(['pack', '--pack-destination', out], dir);
  const tarball = readdirSync(out).find((f) => f.endsWith('.tgz'));
  const files = execFileSync('tar', ['-tzf', path.join(out, tarball)], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map((f) => f.replace(/^package\//, ''));
  const problems = [];
  for (const f of files) if (!allowed(f)) problems.push(`ships ${f}, which is not dist/`);
  for (const need of ['dist/index.js', 'dist/index.d.ts'])
    if (!files.includes(need)) problems.push(`does not ship ${need}`);
  const packed = JSON.parse(
    execFileSync('tar', ['-xzOf', path.join(out, tarball), 'package/package.json'], {
      encoding: 'utf8',
    }),
  );
  if (JSON.stringify(packed.exports).includes('@kern/source'))
    problems.push('packed exports still point at src/ (publishConfig.exports missing)');
  const untar = (f) =>
    execFileSync('tar', ['-xzOf', path.join(out, tarball), `package/${f}`], { encoding: 'utf8' });
  problems.push(...manifestProblems(packed));
  const js = files.filter((f) => f.startsWith('dist/') && f.endsWith('.js'));
  problems.push(
    ...importProblems(
      packed,
      js.map((f) => [f, untar(f)]),
    ),
  );
  if (files.includes('README.md')) problems.push(...readmeProblems(untar('README.md'), files));
  try {
    execFileSync(
      'npx',
      ['-y', 'pnpm@10.34.9', 'exec', 'publint', 'run', path.join(out, tarball), '--strict'],
      {
        cwd: root,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
  } catch (e) {
    problems.push(`publint: ${(e.stdout ?? '') + (e.stderr ?? '')}`.trim());
  }
  console.log(`${manifest.name}: ${files.length} files${problems.length ? '' : ', ok'}`);
  for (const p of problems) console.log(`  ${p}`);
  failures += problems.length;
}
process.exit(failures ? 1 : 0);

/** What a published package.json must have and must not. */
function manifestProblems(m) {
  const out = [];
  const dot = m.exports?.['.'];
  if (typeof dot !== 'object' || dot === null || !dot.default || !dot.types)
    out.push(
      'exports["."] needs "types" and "default" (require() of the ESM build on Node >= 20.19)',
    );
  for (const [dep, range] of Object.entries(m.dependencies ?? {}))
    if (dep.startsWith('@kern/') && !/^\^\d/.test(range))
      out.push(`dependency ${dep}@${range} is not a ^ range (use workspace:^ so npm can dedupe)`);
  if (m.scripts) out.push('ships "scripts" (.pnpmfile.cjs beforePacking should strip them)');
  if (m.devDependencies) out.push('ships "devDependencies"');
  if (!m.repository?.url || !m.repository?.directory)
    out.push('no repository { url, directory }: README links cannot resolve on the registry');
  if (!m.homepage) out.push('no homepage');
  if (!m.bugs?.url) out.push('no bugs.url');
  return out;
}

/** Builtins imported without `node:`, dependencies never imported, imports not declared. */
function importProblems(m, sources) {
  const out = [];
  const builtins = new Set(builtinModules.filter((b) => !b.startsWith('node:')));
  const deps = new Set(Object.keys(m.dependencies ?? {}));
  const used = new Set();
  const spec =
    /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s*)["']([^"'./][^"']*)["']/gm;
  for (const [file, text] of sources)
    for (const [, s] of text.matchAll(spec)) {
      const name = s.startsWith('@') ? s.split('/').slice(0, 2).join('/') : s.split('/')[0];
      if (s.startsWith('node:')) continue;
      if (builtins.has(name))
        out.push(`${file} imports '${s}': write 'node:${s}' (removeNodeProtocol: false)`);
      else if (!deps.has(name)) out.push(`${file} imports '${s}', which is not in dependencies`);
      else used.add(name);
    }
  for (const d of deps)
    if (!used.has(d)) out.push(`dependency ${d} is never imported by dist/ (a devDependency?)`);
  return out;
}

/**
 * README links must resolve where the README is read (npm's page, a node_modules copy):
 * relative links only to shipped files. Commands that need the monorepo (`pnpm --filter`,
 * `pnpm test:torture`, `--conditions=@kern/source`, `pnpm exec`) belong under a heading
 * that says "from a clone", or in a paragraph that says so.
 */
function readmeProblems(text, shipped) {
  const out = [];
  const body = text.replace(/^(`{3,}|~{3,})[\s\S]*?^\1\s*$/gm, (block) =>
    block.replace(/\]\(/g, '] ('),
  );
  for (const [, target] of body.matchAll(/\]\(([^)\s]+)\)/g)) {
    if (/^(https?:|mailto:|#)/.test(target)) continue;
    const file = target.split('#')[0].replace(/^\.\//, '');
    if (!shipped.includes(file) && !shipped.some((f) => f.startsWith(`${file}/`)))
      out.push(
        `README links to ${target}, which the package does not ship (link to the repository)`,
      );
  }
  const monorepo =
    /pnpm --filter|pnpm test:torture|--conditions=@kern\/source|pnpm exec|pnpm build/;
  let fromClone = false;
  let level = 0;
  for (const para of text.split(/\n\s*\n/)) {
    const h = /^(#{1,6})\s+(.*)/.exec(para);
    if (h) {
      if (/from a clone/i.test(h[2])) [fromClone, level] = [true, h[1].length];
      else if (fromClone && h[1].length <= level) fromClone = false;
    }
    if (!fromClone && monorepo.test(para) && !/from a clone/i.test(para))
      out.push(
        `README gives a monorepo-only command outside a "from a clone" part: ${para.trim().split('\n')[0]}`,
      );
  }
  return out;
}
