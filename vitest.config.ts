import { defineConfig } from 'vitest/config';

// Each package has its own vitest.config.ts defining a unit project and, where it has
// one, a torture project (long stress runs; short in CI, long with KERN_TORTURE_LONG=1).
export default defineConfig({
  test: {
    projects: ['packages/*/vitest*.config.ts', 'apps/*/vitest*.config.ts'],
  },
});
