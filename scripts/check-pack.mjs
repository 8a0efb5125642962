// Packs every public package the way `pnpm publish` would and checks that it ships
// dist/ with types and nothing else, then runs publint on it.
import { execFileSync } from 'node:child_process';
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
