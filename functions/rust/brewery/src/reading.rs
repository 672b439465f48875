//! One sensor reading: parsed and validated exactly as `common.parse_reading` does it.

use serde_json::{json, Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::pyfmt::{repr, str_repr};

pub const TANKS: [&str; 2] = ["mash", "boil"];
pub const SENSORS: [(&str, &str); 5] =
    [("temperature", "C"), ("level", "%"), ("valve", "state"), ("pump", "state"), ("heater", "state")];

#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub tank: String,
    pub sensor: String,
    pub value: f64,
    pub unit: String,
    pub timestamp: u64, // epoch ms
}

impl Reading {
    pub fn key(&self) -> String {
        format!("{}:{}", self.tank, self.sensor)
    }

    pub fn doc_id(&self) -> String {
        format!("reading:{}:{}:{:013}", self.tank, self.sensor, self.timestamp)
    }

    pub fn to_json(&self) -> Map<String, Value> {
        let value = json!({"tank": self.tank, "sensor": self.sensor, "value": self.value,
                           "unit": self.unit, "timestamp": self.timestamp});
        match value {
            Value::Object(map) => map,
            _ => unreachable!(),
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// The reading in `args`, or the message the Python version gives for it.
pub fn parse_reading(args: &Map<String, Value>) -> Result<Reading, String> {
    let missing = Value::Null;
    let tank = args.get("tank").unwrap_or(&missing);
    let sensor = args.get("sensor").unwrap_or(&missing);
    let tank = match tank.as_str() {
        Some(t) if TANKS.contains(&t) => t,
        _ => return Err(format!("tank must be one of {}, got {}", TANKS.join(", "), repr(tank))),
    };
    let expected = match sensor.as_str().and_then(|s| SENSORS.iter().find(|(n, _)| *n == s)) {
        Some((_, unit)) => *unit,
        None => {
            let names: Vec<&str> = SENSORS.iter().map(|(n, _)| *n).collect();
            return Err(format!("sensor must be one of {}, got {}", names.join(", "), repr(sensor)));
        }
    };
    let sensor = sensor.as_str().unwrap_or_default();
    let raw = args.get("value").unwrap_or(&missing);
    let value = match raw.as_f64() {
        Some(v) if v.is_finite() => v,
        _ => return Err(format!("value must be a finite number, got {}", repr(raw))),
    };
    let unit = match args.get("unit") {
        None => expected,
        Some(Value::String(u)) if u == expected => expected,
        Some(other) => {
            return Err(format!("unit of {} must be {}, got {}", sensor, str_repr(expected), repr(other)))
        }
    };
    let timestamp = match args.get("timestamp") {
        None => now_ms(),
        Some(raw) => match raw.as_u64() {
            Some(ts) => ts,
            None => return Err(format!("timestamp must be epoch milliseconds, got {}", repr(raw))),
        },
    };
    Ok(Reading { tank: tank.into(), sensor: sensor.into(), value, unit: unit.into(), timestamp })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: Value) -> Result<Reading, String> {
        parse_reading(value.as_object().unwrap())
    }

    #[test]
    fn valid_and_invalid() {
        let ok = parse(json!({"tank": "mash", "sensor": "temperature", "value": 65, "timestamp": 7}));
        assert_eq!(ok.unwrap().doc_id(), "reading:mash:temperature:0000000000007");
        assert_eq!(parse(json!({"tank": "vat"})).unwrap_err(),
                   "tank must be one of mash, boil, got 'vat'");
        assert_eq!(parse(json!({"tank": "boil"})).unwrap_err(),
                   "sensor must be one of temperature, level, valve, pump, heater, got None");
        assert_eq!(parse(json!({"tank": "boil", "sensor": "level", "value": true})).unwrap_err(),
                   "value must be a finite number, got True");
        assert_eq!(parse(json!({"tank": "boil", "sensor": "level", "value": 1, "unit": "C"}))
                       .unwrap_err(), "unit of level must be '%', got 'C'");
        assert_eq!(parse(json!({"tank": "boil", "sensor": "pump", "value": 1, "timestamp": 1.0}))
                       .unwrap_err(), "timestamp must be epoch milliseconds, got 1.0");
        assert_eq!(parse(json!({"tank": "boil", "sensor": "pump", "value": 1, "timestamp": -1}))
                       .unwrap_err(), "timestamp must be epoch milliseconds, got -1");
    }
}
