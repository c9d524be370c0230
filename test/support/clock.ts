/** A clock tests move by hand, to expire leases without sleeping. */
export class ManualClock {
  constructor(private time = 1_700_000_000_000) {}

  readonly now = (): number => this.time;

  advance(ms: number): void {
    this.time += ms;
  }
}
