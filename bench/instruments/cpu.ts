/** CPU use while a scenario runs: figures are only comparable while the machine has cores to spare. */
import { readFileSync } from 'node:fs';
import { median, round } from '../stats.js';

/** CPU use over an interval: this Node process (100 = one core busy) and the whole machine (100 = every core). */
export interface CpuReport {
  readonly nodeProcessPercentOfOneCore: number;
  /** `null` where /proc/stat cannot be read (not Linux). */
  readonly machineBusyPercent: number | null;
}

function machineTicks(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const fields = line.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Starts measuring CPU use; the returned function ends the interval and reports it. */
export function startCpuMeter(): () => CpuReport {
  const wall = performance.now();
  const node = process.cpuUsage();
  const machine = machineTicks();
  return () => {
    const elapsedUs = (performance.now() - wall) * 1000;
    const used = process.cpuUsage(node);
    const after = machineTicks();
    const machineBusy =
      machine && after && after.total > machine.total
        ? round((100 * (after.busy - machine.busy)) / (after.total - machine.total), 1)
        : null;
    return {
      nodeProcessPercentOfOneCore: round((100 * (used.user + used.system)) / elapsedUs, 1),
      machineBusyPercent: machineBusy,
    };
  };
}

/** The median of each figure over several intervals (the machine's figure only where /proc/stat was read). */
export function medianCpu(reports: readonly CpuReport[]): CpuReport {
  const busy = reports.map((r) => r.machineBusyPercent).filter((v): v is number => v !== null);
  return {
    nodeProcessPercentOfOneCore: median(reports.map((r) => r.nodeProcessPercentOfOneCore)),
    machineBusyPercent: busy.length ? median(busy) : null,
  };
}
