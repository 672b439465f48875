// The brewery dashboard: history from get-latest, live readings from the realtime channel,
// alarms when a value crosses its maximum, and a form to change the maxima.

import { getLatest, loadConfig, realtimeUrl, setThreshold } from "./api.js";
import { Chart } from "./charts.js";
import { LiveFeed } from "./live.js";
import { TankCard } from "./tank.js";

const TANKS = ["mash", "boil"];
const TANK_NAMES = { mash: "Mash tun", boil: "Boil kettle" };
const COLOURS = { mash: "#d97706", boil: "#0f9488" };
const UNITS = { temperature: "°C", level: "%" };
// An alarm clears once the value is this far below its maximum (as check-threshold does),
// so a value hovering at the limit does not make the banner flicker.
const HYSTERESIS = 0.5;
const HISTORY_RETRY_MS = 5000;

const $ = (selector) => document.querySelector(selector);

class Dashboard {
  constructor(config) {
    this.config = config;
    this.latest = {}; // "tank:sensor" → {value, unit, timestamp}
    this.thresholds = {};
    this.alarms = new Map(); // key → {value, max, since}
    this.historyLoaded = false;
    this.buffered = [];
    this.cards = Object.fromEntries(TANKS.map((t) => [t, new TankCard($(`[data-tank="${t}"]`), t)]));
    const windowMs = config.minutes * 60_000;
    this.charts = {
      temperature: new Chart($('[data-testid="chart-temperature"]'), {
        series: TANKS.map((t) => ({ key: `${t}:temperature`, label: TANK_NAMES[t], colour: COLOURS[t] })),
        unit: "°C", digits: 1, windowMs,
      }),
      level: new Chart($('[data-testid="chart-level"]'), {
        series: TANKS.map((t) => ({ key: `${t}:level`, label: TANK_NAMES[t], colour: COLOURS[t] })),
        unit: "%", digits: 0, windowMs, range: [0, 100],
      }),
    };
    this.status = $('[data-testid="connection-status"]');
    this.feed = new LiveFeed(realtimeUrl(config), {
      onEvent: (data, id) => this.onEvent(data, id),
      onHello: (hello) => this.onHello(hello),
      onStatus: (state) => this.onStatus(state),
    });
    this.form = new ThresholdForm(this);
    $('[data-testid="chart-window"]').textContent = `last ${config.minutes} min`;
    $('[data-testid="title"]').textContent = config.title;
    $('[data-testid="footer-source"]').textContent =
      `/${config.namespace}/${config.package} · channel ${config.channel}`;
    document.title = `${config.title} · pwsk`;
  }

  async start() {
    this.feed.start(); // first, so nothing published while history loads is missed
    await this.loadHistory();
    this.showAge();
    setInterval(() => this.showAge(), 1000);
  }

  async loadHistory() {
    const subtitle = $('[data-testid="subtitle"]');
    for (;;) {
      try {
        const body = await getLatest(this.config);
        this.applyHistory(body);
        subtitle.textContent = "live from the tanks";
        subtitle.classList.remove("warn");
        break;
      } catch (error) {
        subtitle.textContent = `history unavailable (${error.message}); retrying`;
        subtitle.classList.add("warn");
        await new Promise((resolve) => setTimeout(resolve, HISTORY_RETRY_MS));
      }
    }
    this.historyLoaded = true;
    for (const data of this.buffered.splice(0)) this.apply(data);
    document.body.dataset.ready = "true";
  }

  applyHistory(body) {
    this.setThresholds(body.thresholds || {}, false);
    for (const [key, points] of Object.entries(body.history || {})) {
      const [, sensor] = key.split(":");
      const chart = this.charts[sensor];
      if (chart) for (const [ts, value] of points) chart.add(key, ts, value);
    }
    for (const reading of Object.values(body.latest || {})) this.apply(reading);
  }

  onHello(hello) {
    this.status.dataset.replayed = String(hello.replay || 0);
    if (hello.reset && this.historyLoaded) {
      // Some events could not be replayed (the gateway restarted, or we were away long):
      // the stored history fills the hole.
      getLatest(this.config).then((body) => this.applyHistory(body)).catch(() => {});
    }
  }

  onEvent(data, id) {
    this.status.dataset.lastEventId = id || "";
    if (!this.historyLoaded) this.buffered.push(data);
    else this.apply(data);
  }

  /** One reading: {tank, sensor, value, unit, timestamp}. */
  apply(reading) {
    if (!reading || typeof reading !== "object") return;
    const { tank, sensor, value } = reading;
    const timestamp = Number(reading.timestamp) || Date.now();
    if (!TANKS.includes(tank) || typeof sensor !== "string" || !Number.isFinite(value)) return;
    const key = `${tank}:${sensor}`;
    this.charts[sensor]?.add(key, timestamp, value);
    const previous = this.latest[key];
    if (previous && previous.timestamp > timestamp) return; // an older reading, late
    this.latest[key] = { value, unit: reading.unit, timestamp };
    this.cards[tank].update(sensor, value);
    this.evaluate(key, false);
  }

  setThresholds(thresholds, fresh) {
    this.thresholds = { ...thresholds };
    for (const [key, max] of Object.entries(this.thresholds)) {
      const [tank, sensor] = key.split(":");
      this.cards[tank]?.setMax(sensor, max);
      this.charts[sensor]?.setMax(key, max);
      this.evaluate(key, fresh);
    }
    this.form.showCurrent();
  }

  /** Raise or clear the alarm of `key`; `fresh` ignores the hysteresis (a new maximum). */
  evaluate(key, fresh) {
    const max = this.thresholds[key];
    const value = this.latest[key]?.value;
    const active = this.alarms.has(key);
    let next = active;
    if (!Number.isFinite(max) || !Number.isFinite(value)) next = false;
    else if (fresh) next = value > max;
    else if (!active && value > max) next = true;
    else if (active && value <= max - HYSTERESIS) next = false;
    if (next) {
      const since = active ? this.alarms.get(key).since : Date.now();
      this.alarms.set(key, { value, max, since });
    } else {
      this.alarms.delete(key);
    }
    this.renderAlarms();
  }

  renderAlarms() {
    const banner = $('[data-testid="alarm-banner"]');
    const list = $('[data-testid="alarm-list"]');
    list.replaceChildren(...[...this.alarms].map(([key, alarm]) => {
      const [tank, sensor] = key.split(":");
      const unit = UNITS[sensor] || "";
      const item = document.createElement("li");
      item.dataset.testid = `alarm-${tank}-${sensor}`;
      const strong = document.createElement("strong");
      strong.textContent = `${TANK_NAMES[tank]} ${sensor} ${alarm.value.toFixed(1)} ${unit}`;
      const since = new Date(alarm.since).toLocaleTimeString();
      item.append(strong, ` is above its maximum of ${alarm.max} ${unit} (since ${since})`);
      return item;
    }));
    banner.hidden = this.alarms.size === 0;
    for (const tank of TANKS) {
      this.cards[tank].setAlarm([...this.alarms.keys()].some((k) => k.startsWith(`${tank}:`)));
    }
  }

  onStatus(state) {
    const text = { connecting: "Connecting…", live: "Live", reconnecting: "Reconnecting…",
      offline: "Offline, retrying" }[state] || state;
    this.status.dataset.state = state;
    $('[data-testid="connection-text"]').textContent = text;
  }

  showAge() {
    const newest = Math.max(0, ...Object.values(this.latest).map((r) => r.timestamp));
    const age = $('[data-testid="last-reading-age"]');
    if (!newest) {
      age.textContent = "no readings yet";
      return;
    }
    const seconds = Math.max(0, Math.round((Date.now() - newest) / 1000));
    age.textContent = seconds < 2 ? "updated just now"
      : seconds < 120 ? `updated ${seconds} s ago` : `updated ${Math.round(seconds / 60)} min ago`;
    this.status.dataset.stale = String(seconds > 60);
  }
}

class ThresholdForm {
  constructor(dashboard) {
    this.dashboard = dashboard;
    this.form = $('[data-testid="threshold-form"]');
    this.key = $('[data-testid="threshold-key"]');
    this.max = $('[data-testid="threshold-max"]');
    this.button = $('[data-testid="threshold-submit"]');
    this.result = $('[data-testid="threshold-result"]');
    this.key.addEventListener("change", () => this.showCurrent(true));
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
  }

  showCurrent(force = false) {
    const current = this.dashboard.thresholds[this.key.value];
    if ((force || this.max.value === "") && Number.isFinite(current)) {
      this.max.value = String(current);
    }
  }

  async submit() {
    const [tank, sensor] = this.key.value.split(":");
    const max = Number(this.max.value);
    if (this.max.value === "" || !Number.isFinite(max)) {
      this.say("error", "Enter a number.");
      return;
    }
    this.button.disabled = true;
    this.say("busy", "Saving…");
    try {
      const thresholds = await setThreshold(this.dashboard.config, tank, sensor, max);
      this.dashboard.setThresholds(thresholds, true);
      const unit = UNITS[sensor] || "";
      this.say("ok", `${TANK_NAMES[tank]} ${sensor} maximum is now ${max} ${unit}.`);
    } catch (error) {
      this.say("error", `Not saved: ${error.message}`);
    } finally {
      this.button.disabled = false;
    }
  }

  say(state, text) {
    this.result.dataset.state = state;
    this.result.textContent = text;
  }
}

const config = await loadConfig();
const dashboard = new Dashboard(config);
window.brewery = dashboard; // for the console, and for tests that need to look inside
await dashboard.start();
