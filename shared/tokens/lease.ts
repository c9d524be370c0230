import { FencedError } from '../errors.js';
import type { ClaimRef, Clock, TokenStore } from './token-store.js';

/** Settings of a {@link LeaseKeeper}. */
export interface LeaseOptions {
  readonly leaseMs: number;
  readonly clock: Clock;
  /** Stop starting work this long before the lease would end, for clock drift and the write itself. */
  readonly safetyMs: number;
  /** Called when a renewal fails for a reason other than fencing (throttling, network). */
  readonly onRenewError?: (error: unknown) => void;
  /**
   * Follow the lease its holder renews instead of renewing it: for a segment worker under its dispatcher's claim.
   * A dispatcher that died renews nothing, so its workers stop starting records once its lease ends. @default false
   */
  readonly follow?: boolean;
}

/**
 * Keeps a claim alive while work runs. A Lambda sends no heartbeats while frozen, so renewal happens inline: before
 * work starts ({@link LeaseKeeper.keepAlive}) and on a timer only while the invocation is running. Once a renewal
 * is refused the keeper is lost for good: nothing more may start under it.
 */
export class LeaseKeeper<C extends ClaimRef = ClaimRef> {
  private current: C;
  private renewing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private lostTo: FencedError | undefined;
  /** When a follower last read the lease. */
  private readAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly store: TokenStore,
    claim: C,
    private readonly options: LeaseOptions,
  ) {
    this.current = claim;
  }

  /** The claim with its latest lease. */
  get claim(): C {
    return this.current;
  }

  /** Why the claim was lost, once it was. */
  get lost(): FencedError | undefined {
    return this.lostTo;
  }

  /** Whether new work may start under the claim now. */
  isLive(): boolean {
    return this.lostTo === undefined && this.options.clock() < this.current.leaseUntil - this.options.safetyMs;
  }

  /**
   * Renews when half the lease is used up (one renewal in flight at a time), then says whether work may start.
   * Synchronous when no renewal is due: it runs before every record.
   */
  keepAlive(): boolean | Promise<boolean> {
    if (this.lostTo) return false;
    const now = this.options.clock();
    if (this.current.leaseUntil - now >= this.options.leaseMs / 2)
      return now < this.current.leaseUntil - this.options.safetyMs;
    // A follower reads what the holder renewed, at most every sixth of a lease (not once per record).
    if (this.options.follow && now - this.readAt < this.options.leaseMs / 6 && !this.renewing)
      return now < this.current.leaseUntil - this.options.safetyMs;
    this.renewing ??= this.renew().finally(() => {
      this.renewing = undefined;
    });
    return this.renewing.then(() => this.isLive());
  }

  /** Renews on a timer until {@link LeaseKeeper.stop}; the timer never keeps the process alive. */
  start(): this {
    this.timer ??= setInterval(() => void this.keepAlive(), Math.max(50, this.options.leaseMs / 3));
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Adopts a claim returned by a write made elsewhere (the checkpoint). */
  update(claim: C): void {
    this.current = claim;
  }

  private async renew(): Promise<void> {
    try {
      if (this.options.follow) {
        this.readAt = this.options.clock();
        this.current = await this.store.readLease(this.current);
        return;
      }
      this.current = await this.store.renew(this.current, this.options.leaseMs);
    } catch (error) {
      if (error instanceof FencedError) this.lostTo = error;
      else this.options.onRenewError?.(error);
    }
  }
}
