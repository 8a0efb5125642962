import { defineConfig } from 'vitest/config';

// Each package has its own vitest.config.ts defining a unit project and, where it has
// one, a torture project (long stress runs; short in CI, long with KERN_TORTURE_LONG=1).
// The `readme` project runs every package README's examples from the packed tarballs.
export default defineConfig({
  test: {
    projects: [
      'packages/*/vitest*.config.ts',
      'apps/*/vitest*.config.ts',
      'scripts/vitest.readme.config.ts',
    ],
  },
});
