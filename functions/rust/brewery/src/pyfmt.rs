//! Python's text forms of values, so that messages match the Python actions byte for byte:
//! `repr()` of a JSON value (as `json.loads` would have made it) and the `{:g}` format.

use serde_json::Value;

/// `repr(value)` of the Python object `json.loads` makes of `value`.
pub fn repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(b) => (if *b { "True" } else { "False" }).into(),
        Value::Number(n) => match (n.as_u64(), n.as_i64(), n.as_f64()) {
            (Some(u), _, _) => u.to_string(),
            (None, Some(i), _) => i.to_string(),
            (_, _, Some(f)) => float_repr(f),
            _ => n.to_string(),
        },
        Value::String(s) => str_repr(s),
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(repr).collect();
            format!("[{}]", inner.join(", "))
        }
        Value::Object(map) => {
            let inner: Vec<String> =
                map.iter().map(|(k, v)| format!("{}: {}", str_repr(k), repr(v))).collect();
            format!("{{{}}}", inner.join(", "))
        }
    }
}

/// `repr(str)`: single quotes unless the text holds a single quote and no double one.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// Splits Rust's `{:e}` form ("-1.25e-3") into sign, digits and decimal exponent.
fn split_exp(text: &str) -> (&str, String, i32) {
    let (sign, rest) = text.strip_prefix('-').map_or(("", text), |r| ("-", r));
    let (mantissa, exp) = rest.split_once('e').unwrap_or((rest, "0"));
    (sign, mantissa.replace('.', ""), exp.parse().unwrap_or(0))
}

fn exp_suffix(exp: i32) -> String {
    format!("e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
}

fn non_finite(x: f64) -> Option<String> {
    if x.is_nan() {
        Some("nan".into())
    } else if x.is_infinite() {
        Some(if x > 0.0 { "inf" } else { "-inf" }.into())
    } else {
        None
    }
}

/// `repr(float)`: the shortest digits that round-trip, positional for 1e-4 <= |x| < 1e16.
pub fn float_repr(x: f64) -> String {
    if let Some(text) = non_finite(x) {
        return text;
    }
    let text = format!("{:e}", x);
    let (sign, digits, exp) = split_exp(&text);
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat((-point) as usize), digits)
        } else if digits.len() as i32 <= point {
            format!("{}{}.0", digits, "0".repeat((point - digits.len() as i32) as usize))
        } else {
            let (int, frac) = digits.split_at(point as usize);
            format!("{}.{}", int, frac)
        };
        format!("{}{}", sign, body)
    } else {
        let (first, rest) = digits.split_at(1);
        let mantissa = if rest.is_empty() { first.to_string() } else { format!("{}.{}", first, rest) };
        format!("{}{}{}", sign, mantissa, exp_suffix(exp))
    }
}

fn strip_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

/// Python's `format(x, "g")`: six significant digits, trailing zeros dropped.
pub fn g(x: f64) -> String {
    if let Some(text) = non_finite(x) {
        return text;
    }
    let sci = format!("{:.5e}", x);
    let exp: i32 = sci.split_once('e').map_or(0, |(_, e)| e.parse().unwrap_or(0));
    if (-4..6).contains(&exp) {
        strip_zeros(&format!("{:.*}", (5 - exp) as usize, x)).to_string()
    } else {
        let mantissa = sci.split_once('e').map_or(sci.as_str(), |(m, _)| m);
        format!("{}{}", strip_zeros(mantissa), exp_suffix(exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reprs() {
        assert_eq!(repr(&json!(null)), "None");
        assert_eq!(repr(&json!("vat")), "'vat'");
        assert_eq!(repr(&json!("it's")), "\"it's\"");
        assert_eq!(repr(&json!([1, true, "a"])), "[1, True, 'a']");
        assert_eq!(repr(&json!({"b": 1.0, "a": {}})), "{'b': 1.0, 'a': {}}");
        assert_eq!(float_repr(1e16), "1e+16");
        assert_eq!(float_repr(1.5e-5), "1.5e-05");
        assert_eq!(float_repr(0.0001), "0.0001");
        assert_eq!(float_repr(123.25), "123.25");
        assert_eq!(float_repr(-2.0), "-2.0");
    }

    #[test]
    fn g_format() {
        assert_eq!(g(67.0), "67");
        assert_eq!(g(67.4), "67.4");
        assert_eq!(g(0.1 + 0.2), "0.3");
        assert_eq!(g(1234567.0), "1.23457e+06");
        assert_eq!(g(0.00001), "1e-05");
        assert_eq!(g(999999.5), "1e+06");
        assert_eq!(g(-0.5), "-0.5");
    }
}
