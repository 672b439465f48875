//! The brewery for the blackbox (native) runtime: the data model and the actions of
//! `functions/brewery`, with the same database documents, defaults and messages, so the
//! Rust and the Python actions can share one database.
//!
//! The native contract: the JSON arguments come in argv[1] (and on stdin when argv[1] is
//! left out), the last line printed on stdout is the JSON result, and the exit code is 0.

pub mod actions;
pub mod db;
pub mod pyfmt;
pub mod reading;

pub use reading::{parse_reading, Reading};

use serde_json::{json, Map, Value};
use std::io::Read;

/// Read the arguments, run `action`, print its result as one line.
pub fn run(action: fn(&Map<String, Value>) -> Value) {
    let text = match std::env::args().nth(1) {
        Some(arg) => arg,
        None => {
            let mut input = String::new();
            let _ = std::io::stdin().read_to_string(&mut input);
            input
        }
    };
    let out = match serde_json::from_str::<Value>(if text.trim().is_empty() { "{}" } else { &text }) {
        Ok(Value::Object(args)) => action(&args),
        Ok(_) => json!({"error": "the arguments must be a JSON object"}),
        Err(e) => json!({"error": format!("the arguments are not JSON: {}", e)}),
    };
    println!("{}", out);
}
