/**
 * The liburcu baseline (bench/liburcu/qsbr-gp.c): compiled with `cc` when liburcu-dev is
 * installed (scripts/system-deps.txt), run between kern's rounds in the same bench. When it
 * cannot be built, the rows are skipped and the reason printed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built baseline, or why it is missing. */
export type Liburcu =
  | { readonly ok: true; run(args: string[]): Record<string, number>; dispose(): void }
  | { readonly ok: false; readonly skipped: string };

const source = fileURLToPath(new URL('./liburcu/qsbr-gp.c', import.meta.url));

/** Compiles the baseline into a temporary directory. */
export function buildLiburcu(): Liburcu {
  const dir = mkdtempSync(join(tmpdir(), 'kern-liburcu-'));
  const bin = join(dir, 'qsbr-gp');
  try {
    execFileSync('cc', ['-O2', '-pthread', source, '-o', bin, '-lurcu-qsbr', '-lurcu-common'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    const err = e as NodeJS.ErrnoException & { stderr?: Buffer };
    const why =
      err.code === 'ENOENT'
        ? 'no C compiler (cc) on PATH'
        : `cc failed (is liburcu-dev installed?): ${String(err.stderr ?? err.message)
            .split('\n')
            .find((l) => /error/.test(l))
            ?.trim()}`;
    return { ok: false, skipped: why };
  }
  return {
    ok: true,
    run: (args) =>
      JSON.parse(execFileSync(bin, args, { encoding: 'utf8', timeout: 120_000 })) as Record<
        string,
        number
      >,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
