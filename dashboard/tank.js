// One tank card: an SVG vessel (level fill coloured by temperature, a thermometer with the
// alarm maximum, heater coil, outlet valve and pump) beside big readouts and state pills.

const NAMES = { mash: "Mash tun", boil: "Boil kettle" };
const VESSEL = { top: 46, bottom: 226, left: 52, right: 168 };
const THERMO = { top: 54, bottom: 206, min: 0, max: 110 };
const COLOURS = [ // temperature °C → wort colour
  [15, [94, 168, 211]],
  [40, [170, 180, 120]],
  [62, [224, 165, 38]],
  [85, [214, 112, 28]],
  [100, [186, 56, 20]],
];

function colourFor(celsius) {
  if (!Number.isFinite(celsius)) return "rgb(180, 190, 200)";
  let [t0, c0] = COLOURS[0];
  if (celsius <= t0) return `rgb(${c0.join(",")})`;
  for (const [t1, c1] of COLOURS.slice(1)) {
    if (celsius <= t1) {
      const f = (celsius - t0) / (t1 - t0);
      const mix = c0.map((v, i) => Math.round(v + (c1[i] - v) * f));
      return `rgb(${mix.join(",")})`;
    }
    [t0, c0] = [t1, c1];
  }
  return `rgb(${c0.join(",")})`;
}

const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

function svg(tank) {
  const { top, bottom, left, right } = VESSEL;
  const width = right - left;
  const ticks = [25, 50, 75].map((p) => {
    const y = bottom - ((bottom - top) * p) / 100;
    return `<line x1="${right - 10}" x2="${right}" y1="${y}" y2="${y}" class="tick"/>
            <text x="${right + 6}" y="${y + 3}" class="tick-label">${p}</text>`;
  }).join("");
  const coil = Array.from({ length: 9 }, (_, i) => `l6.5 ${i % 2 ? 7 : -7}`).join(" ");
  return `
  <svg class="tank-svg" viewBox="0 0 240 290" role="img" aria-label="${NAMES[tank]}">
    <defs>
      <clipPath id="clip-${tank}">
        <rect x="${left + 3}" y="${top + 3}" width="${width - 6}" height="${bottom - top - 6}" rx="14"/>
      </clipPath>
      <linearGradient id="steel-${tank}" x1="0" x2="1">
        <stop offset="0" stop-color="#c9d1da"/><stop offset="0.45" stop-color="#f4f7fa"/>
        <stop offset="1" stop-color="#aeb8c3"/>
      </linearGradient>
      <linearGradient id="shade-${tank}" x1="0" x2="0" y1="0" y2="1">
        <stop offset="0" stop-color="#fff" stop-opacity="0.28"/>
        <stop offset="1" stop-color="#000" stop-opacity="0.12"/>
      </linearGradient>
    </defs>
    <g class="legs"><rect x="${left + 12}" y="${bottom}" width="8" height="30" rx="2"/>
      <rect x="${right - 20}" y="${bottom}" width="8" height="30" rx="2"/></g>
    <g class="outlet" data-part="outlet">
      <path class="pipe" d="M${left + width / 2} ${bottom} V262 H222"/>
      <g class="valve" data-part="valve" transform="translate(${left + width / 2} 246)">
        <path d="M-9 -7 L0 0 L-9 7 Z M9 -7 L0 0 L9 7 Z"/>
        <line x1="0" y1="0" x2="0" y2="-10"/><rect x="-6" y="-14" width="12" height="4" rx="1"/>
      </g>
      <g class="pump" data-part="pump" transform="translate(206 262)">
        <circle r="12"/>
        <g class="impeller"><path d="M0 -8 L2.5 0 L0 8 L-2.5 0 Z M-8 0 L0 2.5 L8 0 L0 -2.5 Z"/></g>
      </g>
    </g>
    <rect class="vessel" x="${left}" y="${top}" width="${width}" height="${bottom - top}" rx="16"
          fill="url(#steel-${tank})"/>
    <rect class="lid" x="${left + 24}" y="${top - 10}" width="${width - 48}" height="10" rx="3"/>
    <g clip-path="url(#clip-${tank})">
      <rect class="inside" x="${left}" y="${top}" width="${width}" height="${bottom - top}"/>
      <g class="liquid" data-part="liquid" style="transform: translateY(${bottom}px)">
        <rect class="liquid-body" x="${left - 10}" y="0" width="${width + 20}" height="${bottom - top + 20}"/>
        <path class="wave" d="${wavePath()}"/>
        <rect class="liquid-shade" x="${left - 10}" y="0" width="${width + 20}" height="${bottom - top + 20}"
              fill="url(#shade-${tank})"/>
      </g>
      <line class="max-level" x1="${left}" x2="${right}" y1="0" y2="0" data-part="max-level"/>
      <path class="heater" data-part="heater" d="M${left + 14} ${bottom - 14} ${coil}"/>
    </g>
    <g class="ticks">${ticks}</g>
    <g class="thermo" data-part="thermo">
      <rect class="thermo-tube" x="18" y="${THERMO.top - 4}" width="14" height="${THERMO.bottom - THERMO.top + 14}" rx="7"/>
      <circle class="thermo-bulb-ring" cx="25" cy="${THERMO.bottom + 16}" r="11"/>
      <rect class="thermo-fill" x="21" y="${THERMO.bottom}" width="8" height="0" rx="4"/>
      <circle class="thermo-bulb" cx="25" cy="${THERMO.bottom + 16}" r="8"/>
      <line class="thermo-max" x1="12" x2="38" y1="0" y2="0"/>
    </g>
    <g class="badge" transform="translate(${left + width / 2} ${top + 36})">
      <rect x="-42" y="-20" width="84" height="34" rx="10"/>
      <text class="badge-temp" y="4" text-anchor="middle">–</text>
    </g>
  </svg>`;
}

function pill(tank, part, label) {
  return `<li class="pill" data-testid="${tank}-${part}" data-state="unknown">
            <span class="pill-dot" aria-hidden="true"></span>
            <span class="pill-label">${label}</span>
            <span class="pill-value" data-role="value">–</span>
          </li>`;
}

export class TankCard {
  constructor(element, tank) {
    this.el = element;
    this.tank = tank;
    this.values = {};
    this.max = {};
    element.innerHTML = `
      <header class="card-head">
        <h2>${NAMES[tank] || tank}</h2>
        <span class="activity" data-testid="${tank}-activity">waiting for data</span>
      </header>
      <div class="tank-body">
        ${svg(tank)}
        <div class="readouts">
          <div class="readout">
            <span class="readout-label">Temperature</span>
            <span class="readout-value"><span data-testid="${tank}-temperature">–</span><small>°C</small></span>
            <span class="readout-sub">max <span data-testid="${tank}-temperature-max">–</span> °C</span>
          </div>
          <div class="readout">
            <span class="readout-label">Level</span>
            <span class="readout-value"><span data-testid="${tank}-level">–</span><small>%</small></span>
            <span class="readout-sub">max <span data-testid="${tank}-level-max">–</span> %</span>
          </div>
          <ul class="pills">
            ${pill(tank, "valve", "Valve")}${pill(tank, "pump", "Pump")}${pill(tank, "heater", "Heater")}
          </ul>
        </div>
      </div>`;
    const $ = (sel) => element.querySelector(sel);
    this.parts = {
      temperature: $(`[data-testid="${tank}-temperature"]`),
      level: $(`[data-testid="${tank}-level"]`),
      temperatureMax: $(`[data-testid="${tank}-temperature-max"]`),
      levelMax: $(`[data-testid="${tank}-level-max"]`),
      activity: $(`[data-testid="${tank}-activity"]`),
      svg: $("svg"),
      liquid: $(".liquid"),
      liquidBody: $(".liquid-body"),
      wave: $(".wave"),
      maxLevel: $(".max-level"),
      thermoFill: $(".thermo-fill"),
      thermoMax: $(".thermo-max"),
      badge: $(".badge-temp"),
      valve: $('[data-testid$="-valve"]'),
      pump: $('[data-testid$="-pump"]'),
      heater: $('[data-testid$="-heater"]'),
    };
    this.render();
  }

  /** A reading for this tank: {sensor, value}. */
  update(sensor, value) {
    this.values[sensor] = value;
    this.render();
  }

  setMax(sensor, value) {
    this.max[sensor] = value;
    this.render();
  }

  setAlarm(active) {
    this.el.classList.toggle("alarm", active);
    this.el.dataset.alarm = String(active);
  }

  render() {
    const p = this.parts;
    const { temperature, level } = this.values;
    const { top, bottom } = VESSEL;
    p.temperature.textContent = Number.isFinite(temperature) ? temperature.toFixed(1) : "–";
    p.badge.textContent = Number.isFinite(temperature) ? `${temperature.toFixed(1)} °C` : "–";
    p.level.textContent = Number.isFinite(level) ? level.toFixed(0) : "–";
    const tMax = this.max.temperature;
    const lMax = this.max.level;
    p.temperatureMax.textContent = Number.isFinite(tMax) ? tMax.toFixed(1) : "–";
    p.levelMax.textContent = Number.isFinite(lMax) ? lMax.toFixed(0) : "–";

    const fill = Number.isFinite(level) ? clamp(level, 0, 100) : 0;
    const surface = bottom - ((bottom - top) * fill) / 100;
    const colour = colourFor(temperature);
    // One transform moves surface, wave and body together (and one transition animates it).
    p.liquid.style.transform = `translateY(${surface}px)`;
    p.liquidBody.setAttribute("fill", colour);
    p.wave.setAttribute("fill", colour);
    p.wave.style.display = fill > 0.5 ? "" : "none";
    p.svg.dataset.level = fill.toFixed(1);

    if (Number.isFinite(lMax)) {
      const y = bottom - ((bottom - top) * clamp(lMax, 0, 100)) / 100;
      p.maxLevel.setAttribute("y1", y);
      p.maxLevel.setAttribute("y2", y);
      p.maxLevel.style.display = "";
    } else {
      p.maxLevel.style.display = "none";
    }
    const thermoY = (t) => THERMO.bottom
      - ((THERMO.bottom - THERMO.top) * (clamp(t, THERMO.min, THERMO.max) - THERMO.min))
      / (THERMO.max - THERMO.min);
    const ty = Number.isFinite(temperature) ? thermoY(temperature) : THERMO.bottom;
    p.thermoFill.setAttribute("y", ty);
    p.thermoFill.setAttribute("height", THERMO.bottom + 12 - ty);
    p.thermoFill.setAttribute("fill", colour);
    p.svg.querySelector(".thermo-bulb").setAttribute("fill", colour);
    if (Number.isFinite(tMax)) {
      const y = thermoY(tMax);
      p.thermoMax.setAttribute("y1", y);
      p.thermoMax.setAttribute("y2", y);
      p.thermoMax.style.display = "";
    } else {
      p.thermoMax.style.display = "none";
    }

    for (const part of ["valve", "pump", "heater"]) {
      const raw = this.values[part];
      const state = raw === undefined ? "unknown" : raw ? "on" : "off";
      const pillEl = p[part];
      pillEl.dataset.state = state;
      pillEl.querySelector('[data-role="value"]').textContent =
        state === "unknown" ? "–" : part === "valve" ? (raw ? "open" : "closed")
          : raw ? "on" : "off";
      p.svg.querySelector(`[data-part="${part}"]`).dataset.state = state;
    }
    p.activity.textContent = this.activity();
    p.activity.dataset.activity = p.activity.textContent;
  }

  /** A one-word summary a person reads first, from what the sensors say. */
  activity() {
    const v = this.values;
    if (v.temperature === undefined && v.level === undefined) return "waiting for data";
    if (v.valve && v.pump) return this.tank === "mash" ? "lautering" : "transferring";
    if (Number.isFinite(v.level) && v.level < 1) return "empty";
    if (Number.isFinite(v.temperature) && v.temperature >= 99.5) return "boiling";
    if (v.heater) return "heating";
    if (Number.isFinite(v.temperature) && v.temperature > 40) return "holding";
    return "idle";
  }
}

/** The liquid's surface at y = 0: a row of ripples, wider than the vessel so it can drift. */
function wavePath() {
  const { left, right } = VESSEL;
  let d = `M${left - 40} 0`;
  for (let x = left - 40; x < right + 40; x += 24) d += " q6 -3.5 12 0 t12 0";
  return `${d} V8 H${left - 40} Z`;
}
