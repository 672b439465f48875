// The live feed: one EventSource on the realtime channel, kept open.
//
// The browser reconnects by itself after a dropped connection and sends the last id it saw
// (Last-Event-ID), so the gateway replays what was missed. If the browser gives up (an HTTP
// error, the gateway down for good), a new EventSource is opened with back-off, carrying the
// last id as ?lastEventId=. The gateway's first event, "hello", says how the replay went:
// `reset` set means some events could not be replayed and the page should reload history.

const BACKOFF_MS = [1000, 2000, 5000, 10000, 30000];

export class LiveFeed {
  /**
   * @param {string} url  the channel's /events URL
   * @param {{onEvent: (data: any, id: string) => void, onHello: (hello: any) => void,
   *          onStatus: (state: string) => void}} handlers
   */
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers;
    this.source = null;
    this.lastId = "";
    this.failures = 0;
    this.timer = null;
    this.state = "idle";
  }

  start() {
    this.stop();
    const url = new URL(this.url, window.location.href);
    if (this.lastId) url.searchParams.set("lastEventId", this.lastId);
    const source = new EventSource(url);
    this.source = source;
    this.setState(this.failures ? "reconnecting" : "connecting");
    source.addEventListener("hello", (event) => {
      if (event.lastEventId) this.lastId = event.lastEventId;
      this.failures = 0;
      this.setState("live");
      this.handlers.onHello(JSON.parse(event.data));
    });
    source.onmessage = (event) => {
      this.lastId = event.lastEventId;
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handlers.onEvent(data, event.lastEventId);
    };
    source.onerror = () => {
      if (source !== this.source) return;
      if (source.readyState === EventSource.CLOSED) {
        // The browser will not try again: we do, later.
        this.source = null;
        const wait = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)];
        this.failures += 1;
        this.setState("offline");
        this.timer = setTimeout(() => this.start(), wait);
      } else {
        this.setState("reconnecting");
      }
    };
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.source) {
      this.source.close();
      this.source = null;
    }
  }

  setState(state) {
    if (state === this.state) return;
    this.state = state;
    this.handlers.onStatus(state);
  }
}
