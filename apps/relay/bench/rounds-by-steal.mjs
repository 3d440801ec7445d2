#!/usr/bin/env node
/**
 * Groups the rounds of saved benchmark runs by the CPU steal each round saw, and prints every
 * target's p99 latencies per group: `pnpm bench > run1.log`, more runs, then
 * `node bench/rounds-by-steal.mjs run1.log run2.log ...`.
 *
 * Why: on a shared VM the steal changes from minute to minute and moves every p99 more than any
 * change to the relay does. Rounds of two targets are never run at the same moment, so a median
 * over five rounds compares the machine's minutes as much as the servers. Rounds with like steal
 * compare the servers.
 *
 * It reads the "every round:" table the benchmark prints after its medians.
 */
import { readFileSync } from 'node:fs';

const BANDS = [
  [0, 3],
  [3, 6],
  [6, 10],
  [10, Infinity],
];
const FIGURES = ['fanoutP99Ms', 'ackP99Ms'];
const TARGETS = ['ours', 'in memory', 'reference'];

/** `name  ours 1.2, 3.4 | in memory - | reference 5.6, 7.8` → { ours: [1.2, 3.4], reference: [...] }. */
function parseRoundsLine(line) {
  const byTarget = {};
  for (const part of line.replace(/^\S+\s+/, '').split('|')) {
    const target = TARGETS.find((name) => part.trim().startsWith(name));
    if (target === undefined) continue;
    const values = part.trim().slice(target.length).split(',').map((value) => Number(value.trim()));
    byTarget[target] = values.map((value) => (Number.isFinite(value) ? value : undefined));
  }
  return byTarget;
}

/** Every round of every file: { target, steal, fanoutP99Ms, ackP99Ms }. */
function readRounds(files) {
  const rounds = [];
  for (const file of files) {
    const lines = readFileSync(file, 'utf8').split('\n');
    const start = lines.findIndex((line) => line.startsWith('every round:'));
    if (start < 0) throw new Error(`${file}: no "every round:" table (a run that did not finish?)`);
    const table = new Map();
    for (const line of lines.slice(start + 1)) {
      const name = /^(\w+)\s+ours /.exec(line)?.[1];
      if (name === undefined) break;
      table.set(name, parseRoundsLine(line));
    }
    const steal = table.get('cpuStealPercent');
    if (steal === undefined) throw new Error(`${file}: no cpuStealPercent row`);
    for (const [target, steals] of Object.entries(steal)) {
      steals.forEach((roundSteal, index) => {
        if (roundSteal === undefined) return;
        const round = { target, steal: roundSteal };
        for (const figure of FIGURES) round[figure] = table.get(figure)?.[target]?.[index];
        rounds.push(round);
      });
    }
  }
  return rounds;
}

function median(values) {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node bench/rounds-by-steal.mjs <saved pnpm bench output>...');
  process.exit(2);
}
const rounds = readRounds(files);
console.log(`${rounds.length} rounds from ${files.length} run(s); p99 medians by the steal of the round (n rounds, all values)`);
for (const figure of FIGURES) {
  console.log(`\n${figure}`);
  for (const [low, high] of BANDS) {
    const cells = [];
    for (const target of TARGETS) {
      const values = rounds
        .filter((round) => round.target === target && round.steal >= low && round.steal < high)
        .map((round) => round[figure])
        .filter((value) => value !== undefined);
      if (values.length > 0) cells.push(`${target} ${median(values).toFixed(1)} ms (n ${values.length}: ${values.join(', ')})`);
    }
    const band = high === Infinity ? `≥ ${low} %` : `${low}–${high} %`;
    console.log(`  steal ${band.padEnd(8)} ${cells.length > 0 ? cells.join(' | ') : '-'}`);
  }
}
