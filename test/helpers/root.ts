// Tests use the project's one root lookup (support/project-root.ts).
export { ROOT, fromRoot, CLI } from '../../support/project-root.js';
