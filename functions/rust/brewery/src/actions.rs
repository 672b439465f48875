//! The actions' logic, as `save_measurement.py` and `check_threshold.py`.

use serde_json::{json, Map, Value};

use crate::db::{Db, DbError};
use crate::pyfmt::g;
use crate::reading::parse_reading;

pub const HYSTERESIS: f64 = 0.5; // a value must fall this far below the maximum to clear an alarm
pub const MAX_RACES: usize = 10;
pub const WINDOW: usize = 32; // readings kept per tank/sensor to put late ones in their place
pub const LATE_MS: f64 = 600_000.0; // a reading this much older than the newest one is stale
pub const DEFAULT_THRESHOLDS: [(&str, f64); 4] = [
    ("mash:temperature", 67.0), ("boil:temperature", 102.0), ("mash:level", 95.0), ("boil:level", 95.0),
];

fn error(message: impl std::fmt::Display) -> Value {
    json!({"error": message.to_string()})
}

/// Python's `isinstance(v, int | float)`, which bools pass too.
fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        other => other.as_f64(),
    }
}

/// Python's truth value of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Configured maxima: defaults < action parameters < values set from the dashboard.
pub fn thresholds(db: &Db, args: &Map<String, Value>) -> Result<Map<String, Value>, DbError> {
    let mut out: Map<String, Value> = DEFAULT_THRESHOLDS.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let mut merge = |given: Option<&Value>| {
        for (k, v) in given.and_then(Value::as_object).into_iter().flatten() {
            if let Some(v) = number(v) {
                out.insert(k.clone(), json!(v));
            }
        }
    };
    merge(args.get("thresholds"));
    if let Some(stored) = db.get("thresholds")? {
        merge(stored.get("max"));
    }
    Ok(out)
}

/// `save-measurement`: store one sensor reading (idempotent per tank, sensor, time).
pub fn save_measurement(args: &Map<String, Value>) -> Value {
    let reading = match parse_reading(args) {
        Ok(r) => r,
        Err(message) => return error(message),
    };
    let db = Db::from_args(args);
    let mut doc = Map::new();
    doc.insert("_id".into(), json!(reading.doc_id()));
    doc.insert("type".into(), json!("reading"));
    doc.insert("key".into(), json!(reading.key()));
    doc.extend(reading.to_json());
    match db.put(&doc) {
        // A conflict means this exact reading is already stored (a redelivered message).
        Ok(rev) => {
            let mut out = Map::new();
            out.insert("stored".into(), json!(reading.doc_id()));
            out.insert("duplicate".into(), json!(rev.is_none()));
            out.extend(reading.to_json());
            Value::Object(out)
        }
        Err(e) => error(e),
    }
}

/// `check-threshold`: alarm once when a reading crosses its maximum, clear once when it falls
/// back below it minus the hysteresis; the alarm state changes by compare-and-set on its revision.
pub fn check_threshold(args: &Map<String, Value>) -> Value {
    let reading = match parse_reading(args) {
        Ok(r) => r,
        Err(message) => return error(message),
    };
    let db = Db::from_args(args);
    match check(&db, args, &reading) {
        Ok(out) => out,
        Err(e) => error(e),
    }
}

fn check(db: &Db, args: &Map<String, Value>, reading: &crate::Reading) -> Result<Value, DbError> {
    let limit = thresholds(db, args)?.get(&reading.key()).and_then(Value::as_f64);
    let mut out = reading.to_json();
    out.insert("max".into(), json!(limit));
    out.insert("event".into(), json!("none"));
    let Some(limit) = limit else { return Ok(Value::Object(out)) };
    let alarm_id = format!("alarm:{}", reading.key());
    for _ in 0..MAX_RACES {
        let mut state = db.get(&alarm_id)?.unwrap_or_else(|| {
            let mut fresh = Map::new();
            fresh.insert("_id".into(), json!(alarm_id));
            fresh.insert("active".into(), json!(false));
            fresh
        });
        let new = match tell(&mut state, reading.timestamp, reading.value, limit) {
            Told::Stale => {
                out.insert("event".into(), json!("stale"));
                return Ok(Value::Object(out));
            }
            Told::Seen => return Ok(Value::Object(out)), // a redelivered reading
            Told::New(new) => new,
        };
        if db.put(&state)?.is_some() {
            if let Some(&(_, _, event)) = new.last() {
                let messages: Vec<String> =
                    new.iter().map(|&(_, value, event)| message_for(event, reading, value, limit)).collect();
                out.insert("event".into(), json!(event));
                out.insert("message".into(), json!(messages.last()));
                out.insert("messages".into(), json!(messages));
            }
            return Ok(Value::Object(out));
        }
    }
    Ok(error(format!("alarm state of {} kept changing; gave up", reading.key())))
}

/// What `tell` found: a stale reading, one seen already, or the changes to tell now.
pub enum Told {
    Stale,
    Seen,
    New(Vec<(u64, f64, &'static str)>),
}

/// The alarm state after `value`, and the change it made (`""` for none).
fn step(active: bool, value: f64, limit: f64) -> (bool, &'static str) {
    if !active && value > limit {
        (true, "alarm")
    } else if active && value <= limit - HYSTERESIS {
        (false, "clear")
    } else {
        (active, "")
    }
}

/// Put the reading in `state` (in its place among the recent ones), replay them, and return
/// every change not told yet, as `check_threshold.tell` does.
pub fn tell(state: &mut Map<String, Value>, ts: u64, value: f64, limit: f64) -> Told {
    let mut recent: Vec<(u64, f64, f64)> = state
        .get("recent")
        .and_then(Value::as_array)
        .map(|points| {
            points
                .iter()
                .filter_map(|p| {
                    let p = p.as_array()?;
                    Some((p.first()?.as_u64()?, p.get(1)?.as_f64()?, p.get(2)?.as_f64()?))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut base = match state.get("base") {
        Some(v) => truthy(v),
        None => state.get("active").is_some_and(truthy),
    };
    let mut told: Vec<(u64, String)> = state
        .get("told")
        .and_then(Value::as_array)
        .map(|entries| {
            entries
                .iter()
                .filter_map(|t| {
                    let t = t.as_array()?;
                    Some((t.first()?.as_u64()?, t.get(1)?.as_str()?.to_string()))
                })
                .collect()
        })
        .unwrap_or_default();
    let since = state.get("since").and_then(Value::as_f64).unwrap_or(0.0);
    let newest = recent.last().map_or(since, |p| p.0 as f64);
    let t = ts as f64;
    if t < newest - LATE_MS || (recent.len() >= WINDOW && ts < recent[0].0) || (recent.is_empty() && t < since) {
        return Told::Stale;
    }
    if recent.iter().any(|p| p.0 == ts) {
        return Told::Seen;
    }
    recent.push((ts, value, limit));
    recent.sort_by_key(|p| p.0);
    while recent.len() > WINDOW {
        let (_, old_value, old_limit) = recent.remove(0);
        base = step(base, old_value, old_limit).0;
    }
    let mut changes: Vec<(u64, f64, &'static str)> = Vec::new();
    let mut active = base;
    for &(point_ts, point_value, point_limit) in &recent {
        let (now, event) = step(active, point_value, point_limit);
        active = now;
        if !event.is_empty() {
            changes.push((point_ts, point_value, event));
        }
    }
    let mut new = Vec::new();
    for (i, &(change_ts, change_value, event)) in changes.iter().enumerate() {
        let until = changes.get(i + 1).map(|c| c.0);
        let covered = told
            .iter()
            .any(|(t, e)| e == event && change_ts <= *t && until.map_or(true, |u| *t < u));
        if !covered {
            new.push((change_ts, change_value, event));
        }
    }
    let start = recent[0].0;
    told.retain(|(t, _)| *t >= start);
    told.extend(new.iter().map(|&(t, _, e)| (t, e.to_string())));
    told.sort_by_key(|t| t.0);
    let points: Vec<Value> = recent.iter().map(|&(t, v, l)| json!([t, v, l])).collect();
    let entries: Vec<Value> = told.iter().map(|(t, e)| json!([t, e])).collect();
    state.insert("recent".into(), Value::Array(points));
    state.insert("base".into(), json!(base));
    state.insert("told".into(), Value::Array(entries));
    state.insert("active".into(), json!(active));
    if let Some(&(t, v, _)) = changes.last() {
        state.insert("since".into(), json!(t));
        state.insert("value".into(), json!(v));
    }
    Told::New(new)
}

pub fn message(event: &str, r: &crate::Reading, limit: f64) -> String {
    message_for(event, r, r.value, limit)
}

/// The text of a change of `r`'s tank and sensor at `value` (a reading's, maybe an earlier one).
pub fn message_for(event: &str, r: &crate::Reading, value: f64, limit: f64) -> String {
    let (value, limit, unit) = (g(value), g(limit), &r.unit);
    if event == "alarm" {
        format!("ALARM: {} tank {} is {} {}, above the maximum of {} {}.", r.tank, r.sensor, value, unit, limit, unit)
    } else {
        format!("OK: {} tank {} is back to {} {} (maximum {} {}).", r.tank, r.sensor, value, unit, limit, unit)
    }
}
