/**
 * The README's full-disk claims (Storage, "A full (or failing) disk"), end to end on a real full
 * disk: the relay runs as its own process (src/main.ts under tsx, as service-manager.test.ts runs
 * it) with DATA_DIR on a small tmpfs mounted for the test, which a filler file fills to the last
 * byte. Phones are unmodified y-websocket clients.
 *
 * Mounting needs root (CAP_SYS_ADMIN). Where a probe mount fails the tests are skipped, and say
 * why: no other way shows a disk filling under the relay's own process.
 */
import { closeSync, openSync, promises as fs } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SpawnedRelay } from './full-disk-helpers.js';
import {
  canMountTmpfsOrWarn,
  cleanUpFullDiskTest,
  fillDisk,
  killAfterTest,
  PAGE,
  phone,
  relayEnvironment,
  relayRoot,
  sleep,
  smallDisk,
  spawnRelay,
  startRelay,
  stop,
  watchPhone,
  writeAcknowledged,
} from './full-disk-helpers.js';
import { newListId, waitFor } from './helpers.js';

const MOUNTABLE = canMountTmpfsOrWarn('full-disk.test.ts');

afterEach(cleanUpFullDiskTest);

describe.skipIf(!MOUNTABLE)('the relay on a real full disk (a tmpfs filled to the last byte)', () => {
  it('[FD1] a relay restarted on a full disk whose relay.lock holds no owner yet (a DATA_DIR restored without it, or emptied by an owner write that failed) starts and serves its lists', async () => {
    const disk = await smallDisk(4 << 20);
    const dataDir = path.join(disk, 'data');
    const listId = newListId();
    const first = await spawnRelay(dataDir);
    await writeAcknowledged(first, listId, { milk: 'Milk' });
    await stop(first, 'SIGKILL');
    // A DATA_DIR copied back from a backup (or moved) without its lock file. The same holds for an
    // empty relay.lock: fs.writeFile truncates the file before it writes the owner, so one owner
    // write that fails on a full disk leaves it empty, and every later start needs a new block too.
    await fs.rm(path.join(dataDir, 'relay.lock'));
    fillDisk(disk);

    const restarted = await startRelay(dataDir);
    // The lock itself is taken (flock creates the file, which needs no block); only the owner
    // note written into it (pid, host, start time; read only for a second relay's message) needs
    // room. Its ENOSPC was reported as relay.data_dir_lock_failed and the relay exited 1: every
    // phone offline until someone freed room, though the lists can be served (a relay whose
    // relay.lock already holds an owner starts on the same full disk and does).
    const outcome = 'failed' in restarted ? { started: restarted.failed } : { started: 'listening', served: await watchPhone(restarted, listId, 1500) };
    expect(outcome).toEqual({ started: 'listening', served: { closes: 0, synced: true, items: ['milk'] } });
  }, 40_000);

  it('[FD4] a relay whose log file is on the disk that filled logs again once the disk has room: its recovery and its stop are in the log', async () => {
    const disk = await smallDisk(4 << 20);
    const dataDir = path.join(disk, 'data');
    // stdout to a file on the same disk, as `pnpm run relay >> relay.log`, nohup or systemd's
    // StandardOutput=append: do.
    const logFile = path.join(disk, 'relay.log');
    const logFd = openSync(logFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(relayRoot, 'src/main.ts')], {
      cwd: relayRoot,
      env: relayEnvironment(dataDir, {}),
      stdio: ['ignore', logFd, 'ignore'],
    });
    closeSync(logFd);
    killAfterTest(child);
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const logText = (): Promise<string> => fs.readFile(logFile, 'utf8');
    let port: number | undefined;
    await waitFor(
      () => {
        void logText().then((text) => {
          const match = /"event":"relay.listening"[^\n]*"port":(\d+)/.exec(text);
          if (match) port = Number(match[1]);
        });
        return port !== undefined;
      },
      15_000,
      'relay.listening in the log file',
    );
    const relay: SpawnedRelay = { child, syncUrl: `ws://127.0.0.1:${port}/sync`, baseUrl: `http://127.0.0.1:${port}`, output: () => '', exited };
    const listId = newListId();
    const alice = phone(relay, listId);
    await waitFor(() => alice.provider.synced, 10_000, 'sync');
    alice.doc.getMap('items').set('milk', 'Milk');
    await waitFor(() => alice.isFullyStored(), 10_000, 'the first ack');

    // The log file ends on a block boundary, then the disk fills: the next line needs a new block.
    const { size } = await fs.stat(logFile);
    if (size % PAGE !== 0) await fs.appendFile(logFile, ' '.repeat(PAGE - (size % PAGE) - 1) + '\n');
    const filler = fillDisk(disk);
    for (let i = 0; i < 10; i++) alice.doc.getMap('items').set(`item${i}`, 'x'.repeat(300));
    // Its writes fail (list.write_failed, checkpoint_failed: lines the log cannot take now).
    await sleep(2500);
    await fs.unlink(filler);
    // The relay recovers (README: the first write that succeeds acknowledges them all) ...
    await waitFor(() => alice.isFullyStored(), 20_000, 'the backlog acknowledged once there is room');
    await sleep(300);
    // ... and logs it: streamLineWriter marked stdout broken at the first failed write and dropped
    // every line after it for good, the recovery, this stop and any error after it.
    const code = await stop(relay, 'SIGTERM');
    const text = await logText();
    expect({
      code,
      loggedStopping: text.includes('"event":"relay.stopping"'),
      loggedStopped: text.includes('"event":"relay.stopped"'),
    }).toEqual({ code: 0, loggedStopping: true, loggedStopped: true });
  }, 45_000);
});
