//! The actions' logic, as `save_measurement.py` and `check_threshold.py`.

use serde_json::{json, Map, Value};

use crate::db::{Db, DbError};
use crate::pyfmt::g;
use crate::reading::parse_reading;

pub const HYSTERESIS: f64 = 0.5; // a value must fall this far below the maximum to clear an alarm
pub const MAX_RACES: usize = 10;
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
        let since = state.get("since").and_then(Value::as_f64).unwrap_or(0.0);
        if (reading.timestamp as f64) < since {
            // Activations may run out of order; an older reading must not flip a state a
            // newer one has set.
            out.insert("event".into(), json!("stale"));
            return Ok(Value::Object(out));
        }
        let active = state.get("active").is_some_and(truthy);
        let event = if !active && reading.value > limit {
            "alarm"
        } else if active && reading.value <= limit - HYSTERESIS {
            "clear"
        } else {
            return Ok(Value::Object(out));
        };
        state.insert("active".into(), json!(event == "alarm"));
        state.insert("since".into(), json!(reading.timestamp));
        state.insert("value".into(), json!(reading.value));
        if db.put(&state)?.is_some() {
            out.insert("event".into(), json!(event));
            out.insert("message".into(), json!(message(event, reading, limit)));
            return Ok(Value::Object(out));
        }
    }
    Ok(error(format!("alarm state of {} kept changing; gave up", reading.key())))
}

pub fn message(event: &str, r: &crate::Reading, limit: f64) -> String {
    let (value, limit, unit) = (g(r.value), g(limit), &r.unit);
    if event == "alarm" {
        format!("ALARM: {} tank {} is {} {}, above the maximum of {} {}.", r.tank, r.sensor, value, unit, limit, unit)
    } else {
        format!("OK: {} tank {} is back to {} {} (maximum {} {}).", r.tank, r.sensor, value, unit, limit, unit)
    }
}
