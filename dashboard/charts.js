// Time-series charts on uPlot: several series on one time axis, dashed lines at the alarm
// maxima, redrawn at most once per animation frame.

import uPlot from "./vendor/uPlot.esm.js";

/** Readings of several keys on one shared, sorted time axis (uPlot's column layout). */
export class TimeSeries {
  constructor(keys, windowMs) {
    this.keys = keys;
    this.windowMs = windowMs;
    this.xs = [];
    this.cols = keys.map(() => []);
    this.points = 0;
  }

  /** Add or replace the value of `key` at `ts` (ms); false for keys this chart lacks. */
  add(key, ts, value) {
    const col = this.keys.indexOf(key);
    if (col < 0 || !Number.isFinite(ts) || !Number.isFinite(value)) return false;
    const xs = this.xs;
    let i = xs.length;
    while (i > 0 && xs[i - 1] > ts) i -= 1; // readings arrive in order: this is O(1)
    if (i > 0 && xs[i - 1] === ts) {
      if (this.cols[col][i - 1] == null) this.points += 1;
      this.cols[col][i - 1] = value;
      return true;
    }
    xs.splice(i, 0, ts);
    this.cols.forEach((c, j) => c.splice(i, 0, j === col ? value : null));
    this.points += 1;
    return true;
  }

  trim(now) {
    const oldest = now - this.windowMs;
    let n = 0;
    while (n < this.xs.length && this.xs[n] < oldest) n += 1;
    if (!n) return;
    this.xs.splice(0, n);
    for (const c of this.cols) {
      for (const v of c.splice(0, n)) if (v != null) this.points -= 1;
    }
  }

  data() {
    return [this.xs.map((t) => t / 1000), ...this.cols];
  }

  last(key) {
    const c = this.cols[this.keys.indexOf(key)];
    for (let i = c.length - 1; i >= 0; i -= 1) if (c[i] != null) return c[i];
    return undefined;
  }
}

/** A tick on the time axis: 14:05, or 14:05:30 when ticks are less than a minute apart. */
function clock(seconds, increment) {
  const options = { hour: "2-digit", minute: "2-digit", hour12: false };
  if (increment < 60) options.second = "2-digit";
  return new Date(seconds * 1000).toLocaleTimeString([], options);
}

const AXIS = {
  stroke: "#66727f",
  grid: { stroke: "rgba(120, 134, 150, 0.14)", width: 1 },
  ticks: { stroke: "rgba(120, 134, 150, 0.3)", width: 1, size: 4 },
  font: "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
};

export class Chart {
  /**
   * @param {HTMLElement} element
   * @param {{series: {key: string, label: string, colour: string}[], unit: string,
   *          digits: number, windowMs: number, range?: [number, number]}} spec
   */
  constructor(element, spec) {
    this.el = element;
    this.spec = spec;
    this.table = new TimeSeries(spec.series.map((s) => s.key), spec.windowMs);
    this.maxima = {};
    this.pending = false;
    const fmt = (v) => (v == null ? "–" : `${v.toFixed(spec.digits)} ${spec.unit}`);
    const options = {
      width: Math.max(280, element.clientWidth),
      height: this.height(),
      padding: [12, 12, 0, 4],
      cursor: { drag: { x: false, y: false }, points: { size: 7 } },
      legend: { live: true },
      scales: {
        x: { time: true },
        y: { range: (u, min, max) => this.range(min, max) },
      },
      axes: [
        { ...AXIS, space: 56, values: (u, ticks, axis, space, incr) => ticks.map((t) => clock(t, incr)) },
        { ...AXIS, size: 54, values: (u, ticks) => ticks.map((v) => `${v}${spec.unit === "%" ? "%" : "°"}`) },
      ],
      series: [
        { value: (u, v) => (v == null ? "–" : new Date(v * 1000).toLocaleTimeString()) },
        ...spec.series.map((s) => ({
          label: s.label,
          stroke: s.colour,
          width: 2,
          fill: `${s.colour}14`,
          spanGaps: true,
          points: { show: false },
          value: (u, v) => fmt(v),
        })),
      ],
      hooks: { draw: [(u) => this.drawMaxima(u)] },
    };
    this.plot = new uPlot(options, this.table.data(), element);
    new ResizeObserver(() => this.resize()).observe(element);
  }

  height() {
    return window.matchMedia("(max-width: 640px)").matches ? 200 : 250;
  }

  range(min, max) {
    if (this.spec.range) return this.spec.range;
    const values = [min, max, ...Object.values(this.maxima)].filter(Number.isFinite);
    if (!values.length) return [0, 100];
    const low = Math.min(...values);
    const high = Math.max(...values);
    const pad = Math.max(2, (high - low) * 0.08);
    return [Math.floor(low - pad), Math.ceil(high + pad)];
  }

  add(key, ts, value) {
    if (this.table.add(key, ts, value)) this.schedule();
  }

  setMax(key, value) {
    this.maxima[key] = value;
    this.schedule();
  }

  schedule() {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.table.trim(Date.now());
      this.plot.setData(this.table.data());
      this.el.dataset.points = String(this.table.points);
    });
  }

  resize() {
    const width = Math.max(280, this.el.clientWidth);
    if (width !== this.plot.width) this.plot.setSize({ width, height: this.height() });
  }

  drawMaxima(u) {
    const { ctx } = u;
    const { left, width } = u.bbox;
    ctx.save();
    ctx.setLineDash([6, 5]);
    ctx.lineWidth = 1.5 * devicePixelRatio;
    ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
    // One line per distinct maximum; series that share one share its line and label.
    const lines = new Map();
    for (const s of this.spec.series) {
      const max = this.maxima[s.key];
      if (Number.isFinite(max)) lines.set(max, [...(lines.get(max) || []), s]);
    }
    for (const [max, series] of lines) {
      const y = Math.round(u.valToPos(max, "y", true));
      const colour = series.length === 1 ? series[0].colour : "#66727f";
      const label = series.length === 1 ? `${series[0].label} max ${max}` : `max ${max}`;
      ctx.strokeStyle = `${colour}b0`;
      ctx.beginPath();
      ctx.moveTo(left, y);
      ctx.lineTo(left + width, y);
      ctx.stroke();
      ctx.fillStyle = colour;
      ctx.textAlign = "right";
      ctx.fillText(label, left + width - 6 * devicePixelRatio, y - 5 * devicePixelRatio);
    }
    ctx.restore();
  }
}
