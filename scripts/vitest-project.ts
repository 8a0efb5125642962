import { defineProject, type UserWorkspaceConfig } from 'vitest/config';

/** Resolve `@kern/*` packages to their TypeScript source so tests run without a build. */
const conditions = ['@kern/source', 'module', 'node', 'development|production'];

/**
 * The vitest project of one package.
 * `unit`: test/**\/*.test.ts except torture; `torture`: test/**\/*.torture.test.ts, run
 * short in CI and long when KERN_TORTURE_LONG=1.
 */
export function kernProject(name: string, kind: 'unit' | 'torture' = 'unit'): UserWorkspaceConfig {
  const torture = kind === 'torture';
  return defineProject({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: conditions } },
    test: {
      name: torture ? `${name}:torture` : name,
      include: torture ? ['test/**/*.torture.test.ts'] : ['test/**/*.test.ts'],
      exclude: torture ? [] : ['test/**/*.torture.test.ts'],
      testTimeout: torture ? 600_000 : 30_000,
    },
  });
}
