/** The machine the figures were measured on: the figures mean little without it. */
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { round } from '../stats.js';

export interface MachineReport {
  nproc: number;
  cpuModel: string;
  node: string;
  platform: string;
  arch: string;
  memoryGb: number;
  /** 1-minute load average when the run started and ended: other work on the machine skews the figures. */
  loadAverageAtStart: number;
  loadAverageAtEnd: number;
}

/** The 1-minute load average now. */
export function loadAverage(): number {
  return loadavg()[0] ?? 0;
}

export function machineReport(load: { atStart: number; atEnd: number }): MachineReport {
  return {
    nproc: availableParallelism(),
    cpuModel: cpuModel(),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    memoryGb: round(totalmem() / 2 ** 30, 1),
    loadAverageAtStart: round(load.atStart, 2),
    loadAverageAtEnd: round(load.atEnd, 2),
  };
}

/** The model name in /proc/cpuinfo where it can be read, else the one Node reports. */
function cpuModel(): string {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('model name'));
    if (line) return line.split(':')[1]!.trim();
  } catch {
    // not Linux
  }
  return cpus()[0]?.model ?? 'unknown';
}
