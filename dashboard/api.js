// Talking to pwsk: the page's configuration, the two web actions, the realtime URL.
//
// Configuration comes from the gateway's config.json, and query parameters override it:
//   ?namespace=guest&package=brewery&channel=brewery&minutes=60&api=http://host:3233

const DEFAULTS = {
  namespace: "guest",
  package: "brewery",
  channel: "brewery",
  minutes: 60,
  title: "Brewery",
  api: "",
};

export async function loadConfig(location = window.location) {
  const config = { ...DEFAULTS };
  try {
    const response = await fetch(new URL("config.json", location.href), { cache: "no-cache" });
    if (response.ok) Object.assign(config, await response.json());
  } catch {
    // A page opened from somewhere else: the defaults and the query do.
  }
  const query = new URLSearchParams(location.search);
  for (const key of Object.keys(DEFAULTS)) {
    if (query.has(key)) config[key] = query.get(key);
  }
  config.minutes = Number(config.minutes) || DEFAULTS.minutes;
  config.api = String(config.api || "").replace(/\/+$/, "");
  return config;
}

const enc = encodeURIComponent;

function webAction(config, name, extension) {
  return `${config.api}/api/v1/web/${enc(config.namespace)}/${enc(config.package)}/${name}${extension}`;
}

export function realtimeUrl(config) {
  return `${config.api}/realtime/${enc(config.namespace)}/${enc(config.channel)}/events`;
}

export class ApiError extends Error {}

async function answer(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    // not JSON: the status says enough
  }
  if (!response.ok) {
    const message = body && (body.error || body.message);
    throw new ApiError(typeof message === "string" ? message : `HTTP ${response.status}`);
  }
  return body;
}

/** `{latest, history, thresholds, now}` from the get-latest web action. */
export async function getLatest(config, minutes = config.minutes) {
  const url = `${webAction(config, "get-latest", ".json")}?minutes=${enc(minutes)}`;
  return answer(await fetch(url, { cache: "no-store" }));
}

/** Set one maximum; resolves to the thresholds now in force. */
export async function setThreshold(config, tank, sensor, max) {
  const response = await fetch(webAction(config, "set-threshold", ".http"), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ tank, sensor, max }),
  });
  return (await answer(response)).thresholds;
}
