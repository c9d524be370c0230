import { UnknownProcessorError } from '../errors.js';
import { SegmentRouter, type Layout, type LayoutSegment } from './layout.js';
import type { Clock, TokenStore } from '../tokens/token-store.js';

/** A layout as read, with its router and when it was read. */
export interface CachedLayout {
  readonly layout: Layout;
  readonly router: SegmentRouter<LayoutSegment>;
  readonly readAt: number;
}

/**
 * The processor's layout, cached per container for at most `ttlMs`. The bound matters: a split or merge waits
 * that long after marking segments draining, so no dispatcher can still route with the layout before it. A
 * processor never initialised is initialised with `initialSegments` (idempotent, so racing containers agree).
 */
export class LayoutCache {
  private cached: CachedLayout | undefined;
  private loading: Promise<CachedLayout> | undefined;

  constructor(
    private readonly store: TokenStore,
    private readonly processor: string,
    private readonly options: { ttlMs: number; initialSegments: number; clock: Clock },
  ) {}

  /** The cached layout if fresh, otherwise a new read. */
  async get(): Promise<CachedLayout> {
    const cached = this.cached;
    if (cached && this.isFresh(cached)) return cached;
    return this.refresh();
  }

  /** The layout read last, however old; undefined before the first read. Never reads. */
  latest(): CachedLayout | undefined {
    return this.cached;
  }

  /** Whether a layout read at that time may still be used to start work. */
  isFresh(cached: CachedLayout): boolean {
    return this.options.clock() - cached.readAt < this.options.ttlMs;
  }

  /** Reads the layout again (one read in flight at a time). */
  async refresh(): Promise<CachedLayout> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }

  private async load(): Promise<CachedLayout> {
    const readAt = this.options.clock();
    let layout: Layout;
    try {
      layout = await this.store.readLayout(this.processor);
    } catch (error) {
      if (!(error instanceof UnknownProcessorError)) throw error;
      layout = await this.store.initialise(this.processor, this.options.initialSegments);
    }
    const cached = { layout, router: new SegmentRouter(layout.segments), readAt };
    this.cached = cached;
    return cached;
  }
}
