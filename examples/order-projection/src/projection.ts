/** The read model: per order, how many events it has seen and the last status. Plain code, tested on its own. */
export interface OrderView {
  readonly events: number;
  readonly status: string;
}

export interface OrderEvent {
  readonly type: 'placed' | 'paid' | 'shipped' | 'cancelled';
}

/** Applies one event; events of one order arrive in order, so the fold is the order's history. */
export function apply(view: OrderView | undefined, event: OrderEvent): OrderView {
  return { events: (view?.events ?? 0) + 1, status: event.type };
}
