#!/usr/bin/env node
/**
 * Machine micro-benchmark behind "What limits the tail here" (not part of `pnpm bench`): does
 * this VM charge synced writes to the guest as steal? Phases of STEAL_SECONDS each, with a rest
 * between them:
 *   idle    — nothing runs;
 *   spin    — one thread busy with arithmetic, no I/O (the control: how much steal CPU use alone
 *             draws);
 *   <n>/s   — one O_DSYNC append of STEAL_WRITE_BYTES every 1/n s into one file (a journal's
 *             pattern), for each rate in STEAL_RATES.
 * Prints, per phase, the steal and the busy share of both CPUs (from /proc/stat; busy counts
 * iowait) and each write's latency p50/p99. Run it on an otherwise idle machine:
 *   node apps/relay/bench/steal-by-fsync-rate.mjs
 * (STEAL_RATES=50,100,250,500 STEAL_WRITE_BYTES=4096 STEAL_SECONDS=12 STEAL_REPEATS=2).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const RATES = (process.env.STEAL_RATES ?? '50,100,250,500').split(',').map(Number);
const WRITE_BYTES = Number(process.env.STEAL_WRITE_BYTES ?? 4096);
const SECONDS = Number(process.env.STEAL_SECONDS ?? 12);
const REPEATS = Number(process.env.STEAL_REPEATS ?? 2);
const REST_MS = 3000;

/** Jiffies since boot over all CPUs: total, idle, steal (the first line of /proc/stat). */
function cpuTimes() {
  const fields = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return { total: fields.reduce((sum, value) => sum + value, 0), idle: fields[3], steal: fields[7] };
}

function shares(before, after) {
  const total = after.total - before.total;
  const steal = after.steal - before.steal;
  const idle = after.idle - before.idle;
  return { stealPercent: (100 * steal) / total, busyPercent: (100 * (total - idle - steal)) / total };
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function percentile(sorted, p) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function idle() {
  await sleep(SECONDS * 1000);
  return {};
}

async function spin() {
  const end = Date.now() + SECONDS * 1000;
  let sink = 0;
  while (Date.now() < end) for (let i = 0; i < 100_000; i++) sink += i;
  return { sink };
}

async function appendAt(rate, dir) {
  const file = path.join(dir, 'journal');
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | fs.constants.O_DSYNC);
  const record = Buffer.alloc(WRITE_BYTES, 7);
  const latencies = [];
  const start = performance.now();
  try {
    while (performance.now() - start < SECONDS * 1000) {
      const due = start + (latencies.length * 1000) / rate;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      const begun = performance.now();
      await new Promise((resolve, reject) => fs.write(fd, record, (error) => (error ? reject(error) : resolve())));
      latencies.push(performance.now() - begun);
    }
  } finally {
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
  }
  latencies.sort((a, b) => a - b);
  return { writesPerS: latencies.length / SECONDS, p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
}

async function phase(name, run) {
  const before = cpuTimes();
  const result = await run();
  const { stealPercent, busyPercent } = shares(before, cpuTimes());
  const writes = result.writesPerS === undefined
    ? ''
    : `  writes ${result.writesPerS.toFixed(0)}/s, latency p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms`;
  console.log(`${name.padEnd(8)} steal ${stealPercent.toFixed(2).padStart(6)} %  busy ${busyPercent.toFixed(1).padStart(5)} %${writes}`);
  await sleep(REST_MS);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'basket-steal-'));
try {
  for (let repeat = 0; repeat < REPEATS; repeat++) {
    await phase('idle', idle);
    await phase('spin', spin);
    for (const rate of RATES) await phase(`${rate}/s`, () => appendAt(rate, dir));
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
