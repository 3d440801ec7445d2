#!/usr/bin/env node
// One-time setup for a fresh clone on a machine with only Node 20+ and npm:
// installs pnpm if missing, installs the workspace from the lockfile, and with
// --browser makes sure a system Chromium exists for the browser tests
// (Playwright may not download browsers here).
import { execSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';

const wantBrowser = process.argv.includes('--browser');
const run = (cmd) => execSync(cmd, { stdio: 'inherit' });
const has = (cmd) => {
  try {
    execSync(`command -v ${cmd}`, { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
};

if (!has('pnpm')) {
  // `npm i -g` writes to npm's global prefix: /usr or /usr/local for a distro or nodesource Node,
  // which only root may write. Say so in one line instead of npm's EACCES stack.
  const prefix = execSync('npm prefix -g', { encoding: 'utf8' }).trim();
  const globalModules = process.platform === 'win32' ? prefix : `${prefix}/lib/node_modules`;
  try {
    accessSync(existsSync(globalModules) ? globalModules : prefix, constants.W_OK);
  } catch {
    console.error(`[setup] pnpm is missing and npm cannot install it into ${prefix} as this user: run \`sudo npm i -g pnpm@10\`, then run this command again.`);
    process.exit(1);
  }
  console.log('[setup] pnpm not found: installing pnpm@10 with npm');
  run('npm i -g pnpm@10');
}

run('pnpm install --frozen-lockfile --prefer-offline');

// The relay locks its DATA_DIR with util-linux's `flock`; without it the relay runs unlocked
// (and says so), but its lock tests fail.
if (!has('flock')) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    console.log('[setup] flock not found: installing util-linux');
    run('apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y util-linux');
  } else {
    console.warn('[setup] flock not found: the relay will run without its DATA_DIR lock and its lock tests will fail (install util-linux)');
  }
}

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (wantBrowser && !existsSync(chromium)) {
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (isRoot && has('apt-get')) {
    console.log('[setup] Chromium not found: installing the Debian package');
    run('apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium');
  } else {
    console.error(
      `[setup] The browser tests need Chromium at ${chromium}. Install it ` +
        '(Debian/Ubuntu: sudo apt-get install -y chromium) or set CHROMIUM_PATH.',
    );
    process.exit(1);
  }
}
