// The engine's event stream (`/api/events`, Mailpit's `{"Type", "Data"}` frames),
// reconnecting with back-off while the engine is away.
import type { Event } from '../api/types';

export class EventStream {
  connected = $state(false);
  #socket: WebSocket | null = null;
  #retry = 500;
  #closed = false;

  /**
   * `onReconnect` runs when the stream comes back after a loss (not on the first
   * connection): events may have been missed meanwhile.
   */
  constructor(private readonly onEvent: (event: Event) => void, private readonly onReconnect: () => void) {}
  /** Whether the stream was ever up (so its loss is a loss, not a slow start). */
  everConnected = $state(false);

  open(): void {
    const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
    const socket = new WebSocket(`${scheme}://${location.host}/api/events`);
    this.#socket = socket;
    let wasOpen = false;
    socket.onopen = () => {
      wasOpen = true;
      this.#retry = 500;
      this.connected = true;
      // Anything may have changed while we were away.
      if (this.everConnected) this.onReconnect();
      this.everConnected = true;
    };
    socket.onmessage = (message) => {
      try {
        this.onEvent(JSON.parse(message.data) as Event);
      } catch {
        // a frame we do not understand: ignore it
      }
    };
    socket.onclose = () => {
      this.connected = false;
      if (this.#closed) return;
      setTimeout(() => this.open(), wasOpen ? 200 : this.#retry);
      this.#retry = Math.min(this.#retry * 2, 5000);
    };
  }

  close(): void {
    this.#closed = true;
    this.#socket?.close();
  }
}
