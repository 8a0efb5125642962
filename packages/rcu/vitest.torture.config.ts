import { kernProject } from '../../scripts/vitest-project.js';

// rcutorture: short in CI, long with KERN_TORTURE_LONG=1.
export default kernProject('rcu', 'torture');
