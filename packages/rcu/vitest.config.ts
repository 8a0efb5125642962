import { kernProject } from '../../scripts/vitest-project.js';

export default kernProject('rcu');
