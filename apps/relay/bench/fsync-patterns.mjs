#!/usr/bin/env node
/**
 * Disk micro-benchmark behind a storage design question (not part of `pnpm bench`):
 * 2,000 small durable appends per second spread over 1,000 files, done as
 *   append   — one O_DSYNC write per update into its list's file (what the relay does today),
 *   prealloc — the same into files written full of zeros beforehand (no size change per write),
 *   wal      — one shared journal, each batch written then fdatasync'ed (group commit across lists).
 * Prints latency p50/p99/max per pattern and the CPU time the process spent (system time is where
 * the per-file syncs cost). Run: UV_THREADPOOL_SIZE=64 node apps/relay/bench/fsync-patterns.mjs
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FILES = 1000;
const RATE = 2000;
const SECONDS = Number(process.env.FSYNC_SECONDS ?? 8);
const RECORD = Buffer.alloc(120, 7);

async function run(mode) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `basket-fsync-${mode}-`));
  const fds = [];
  const sizes = new Array(FILES).fill(0);
  for (let i = 0; i < FILES; i++) {
    const file = path.join(dir, `f${i}`);
    if (mode === 'prealloc') fs.writeFileSync(file, Buffer.alloc(65536));
    const flags = fs.constants.O_RDWR | fs.constants.O_CREAT | (mode === 'wal' ? 0 : fs.constants.O_DSYNC);
    fds.push(fs.openSync(file, flags));
  }
  const latencies = [];
  const wal = mode === 'wal' ? fs.openSync(path.join(dir, 'journal'), 'w') : -1;
  let walPosition = 0;
  let pending = [];
  let inFlight = false;
  const flushJournal = () => {
    if (inFlight || pending.length === 0) return;
    inFlight = true;
    const batch = pending;
    pending = [];
    const bytes = Buffer.concat(batch.map(() => RECORD));
    fs.write(wal, bytes, 0, bytes.length, walPosition, () => {
      walPosition += bytes.length;
      fs.fdatasync(wal, () => {
        const now = performance.now();
        for (const sentAt of batch) latencies.push(now - sentAt);
        inFlight = false;
        flushJournal();
      });
    });
  };
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  let sent = 0;
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      const elapsed = performance.now() - start;
      if (elapsed > SECONDS * 1000) {
        clearInterval(timer);
        resolve();
        return;
      }
      const due = Math.floor((elapsed / 1000) * RATE - sent);
      for (let k = 0; k < due; k++) {
        sent += 1;
        const file = (sent * 7919) % FILES;
        const sentAt = performance.now();
        if (mode === 'wal') {
          pending.push(sentAt);
          setImmediate(flushJournal);
          continue;
        }
        const position = sizes[file];
        sizes[file] += RECORD.length;
        fs.write(fds[file], RECORD, 0, RECORD.length, position, () => latencies.push(performance.now() - sentAt));
      }
    }, 10);
  });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const cpu = process.cpuUsage(cpuBefore);
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))].toFixed(2);
  console.log(
    `${mode.padEnd(9)} appends ${latencies.length}  p50 ${at(0.5)} ms  p99 ${at(0.99)} ms  max ${latencies.at(-1).toFixed(1)} ms  ` +
      `cpu user ${(cpu.user / 1e6).toFixed(2)} s, system ${(cpu.system / 1e6).toFixed(2)} s over ${SECONDS} s`,
  );
  for (const fd of fds) fs.closeSync(fd);
  if (wal >= 0) fs.closeSync(wal);
  fs.rmSync(dir, { recursive: true, force: true });
}

for (const mode of ['append', 'prealloc', 'wal']) await run(mode);
