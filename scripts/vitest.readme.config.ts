import { defineProject } from 'vitest/config';

/**
 * The `readme` project: packs every package, installs the tarballs into a project
 * outside the repository and runs each README example there (scripts/test/readme.test.ts).
 * It builds first (a turbo cache hit after `pnpm build`).
 */
export default defineProject({
  test: {
    name: 'readme',
    root: import.meta.dirname,
    include: ['test/**/*.test.ts'],
    testTimeout: 180_000,
    hookTimeout: 600_000,
  },
});
