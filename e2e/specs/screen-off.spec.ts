/**
 * The phone's screen goes off with the list open: Chromium freezes the page (no timer runs, no
 * socket message is read) while the connection itself stays up (the browser answers the relay's
 * WebSocket pings). Waking must not read the frozen time as the relay's silence: the working
 * connection is kept, with no "Syncing…" flash.
 *
 * Frozen here by pausing the page's JavaScript in the DevTools debugger: as in a frozen page, no
 * timer runs and messages wait, and on resume each overdue interval runs once. (Chromium's own
 * freeze, Page.setWebLifecycleState, refuses a visible page, and a headless page stays visible.)
 */
import { startSyncedList } from '../fixtures/family.js';
import { expect, test } from '../fixtures/test.js';

/** Longer than y-websocket's own 30 s watchdog and the heartbeat's 8 s of silence. */
const SCREEN_OFF_MS = 35_000;

test('a phone whose screen was off for 35 s keeps its working connection: no reconnect, no "Syncing…" when it wakes', async ({
  phones,
}) => {
  const a = await startSyncedList(phones, ['Milk']);
  const socketsBefore = a.network.socketsOpened;
  await a.recordStatusTexts();

  const devtools = await a.context.newCDPSession(a.page);
  await devtools.send('Debugger.enable');
  // Takes hold at the next script to run (a timer), which then waits for the resume.
  await devtools.send('Debugger.pause');
  await new Promise((resolve) => setTimeout(resolve, SCREEN_OFF_MS));
  await devtools.send('Debugger.resume');
  await devtools.send('Debugger.disable');
  // Long enough for the heartbeat's ticks after the wake to have judged the connection.
  await a.page.waitForTimeout(10_000);

  expect(a.network.socketsOpened, 'no new connection').toBe(socketsBefore);
  expect(await a.recordedStatusTexts(), 'the status line said Synced throughout').toEqual(['Synced']);
  await a.add('Eggs');
  await a.waitSynced();
});
