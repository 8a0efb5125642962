export { default } from '../../scripts/tsup-package.js';
