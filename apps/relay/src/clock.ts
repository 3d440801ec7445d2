/**
 * Time for intervals: back-offs, idle times, latencies, budgets, deadlines. The wall clock
 * (Date.now) steps when NTP corrects it, a VM resumes or an operator fixes the date; measured by
 * it, a step back of an hour refused every list for that hour after a failed journal replay, kept
 * idle lists loaded and stopped compactions, and a step forward put hour-long acks into the
 * latency histogram ([CLK1]–[CLK8]). This one never steps; it reads like Date.now (milliseconds
 * since 1970 at the process's start), but only its differences mean anything. Wall time stays
 * for what a person reads: log stamps, quarantined files' names, the lock owner's start time.
 */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}
