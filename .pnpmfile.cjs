// pnpm hooks for this workspace.
//
// beforePacking (pnpm >= 10.28) edits the package.json that `pnpm pack` and
// `pnpm publish` (and so `changeset publish`) put in a tarball; the package.json in the
// repository is left alone. A published @kern package needs neither its scripts (they run
// tsx, benches and examples that are not shipped) nor its devDependencies.
'use strict';

module.exports = {
  hooks: {
    beforePacking(pkg) {
      delete pkg.scripts;
      delete pkg.devDependencies;
      return pkg;
    },
  },
};
