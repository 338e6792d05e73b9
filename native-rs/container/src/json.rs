//! A small, strict JSON (RFC 8259) parser and a compact serializer.
//!
//! Numbers keep their source text, so 64-bit integers (rlimits, id ranges)
//! are read exactly instead of through `f64`. Objects keep member order; on
//! duplicate keys the last one wins, as in `JSON.parse`.

use std::fmt::{self, Write as _};

#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    Array(Vec<Json>),
    Object(Vec<(String, Json)>),
}

/// A JSON number as validated source text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Number(String);

impl Number {
    fn is_integer_text(&self) -> bool {
        !self.0.contains(['.', 'e', 'E'])
    }

    /// `1e3` and `5.0` count as integers too, within f64's exact range.
    fn integral_f64(&self) -> Option<f64> {
        let f = self.as_f64();
        (f.is_finite() && f.fract() == 0.0 && f.abs() <= 9_007_199_254_740_992.0).then_some(f)
    }

    pub fn as_u64(&self) -> Option<u64> {
        if self.is_integer_text() {
            return self.0.parse().ok();
        }
        self.integral_f64().filter(|f| *f >= 0.0).map(|f| f as u64)
    }

    pub fn as_i64(&self) -> Option<i64> {
        if self.is_integer_text() {
            return self.0.parse().ok();
        }
        self.integral_f64().map(|f| f as i64)
    }

    pub fn as_u32(&self) -> Option<u32> {
        self.as_u64().and_then(|v| u32::try_from(v).ok())
    }

    pub fn as_f64(&self) -> f64 {
        // Validated grammar is a subset of Rust's float syntax.
        self.0.parse().unwrap_or(f64::NAN)
    }

    pub fn text(&self) -> &str {
        &self.0
    }
}

impl Json {
    /// Member lookup on objects (last duplicate wins); None for other values.
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Json::Number(n) => Some(n),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_object(&self) -> bool {
        matches!(self, Json::Object(_))
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// Builds an object from `(key, value)` pairs.
    pub fn object<K: Into<String>>(members: Vec<(K, Json)>) -> Json {
        Json::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// Sets member `key` of an object in place (appended when new), keeping
    /// every other member and their order; other values are left alone.
    pub fn set(&mut self, key: &str, value: Json) {
        if let Json::Object(members) = self {
            match members.iter().position(|(k, _)| k == key) {
                Some(i) => {
                    members[i].1 = value;
                    // Later duplicates would win over it (as in JSON.parse).
                    let mut n = 0;
                    members.retain(|(k, _)| {
                        n += 1;
                        n <= i + 1 || k != key
                    });
                }
                None => members.push((key.to_string(), value)),
            }
        }
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::String(s.to_string())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::String(s)
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}

macro_rules! from_int {
    ($($t:ty),*) => {$(
        impl From<$t> for Json {
            fn from(n: $t) -> Json {
                Json::Number(Number(n.to_string()))
            }
        }
    )*};
}
from_int!(i32, i64, u32, u64);

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(v: Option<T>) -> Json {
        v.map_or(Json::Null, Into::into)
    }
}

impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(v: Vec<T>) -> Json {
        Json::Array(v.into_iter().map(Into::into).collect())
    }
}

// ---------------------------------------------------------------- serializer

fn write_string(out: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    out.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            '\u{8}' => out.write_str("\\b")?,
            '\u{c}' => out.write_str("\\f")?,
            c if (c as u32) < 0x20 => write!(out, "\\u{:04x}", c as u32)?,
            c => out.write_char(c)?,
        }
    }
    out.write_char('"')
}

/// Compact serialization (no whitespace), suitable for JSON lines.
impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
            Json::Number(n) => f.write_str(&n.0),
            Json::String(s) => write_string(f, s),
            Json::Array(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    item.fmt(f)?;
                }
                f.write_char(']')
            }
            Json::Object(members) => {
                f.write_char('{')?;
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write_string(f, k)?;
                    f.write_char(':')?;
                    v.fmt(f)?;
                }
                f.write_char('}')
            }
        }
    }
}

// -------------------------------------------------------------------- parser

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid JSON at line {} column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// Nesting limit: keeps hostile input from overflowing the stack.
const MAX_DEPTH: usize = 256;

pub fn parse(text: &str) -> Result<Json, ParseError> {
    let mut p = Parser {
        src: text,
        bytes: text.as_bytes(),
        pos: 0,
        depth: 0,
    };
    p.skip_ws();
    let value = p.value()?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        return Err(p.error("unexpected data after the value"));
    }
    Ok(value)
}

struct Parser<'a> {
    src: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, message: &str) -> ParseError {
        let before = &self.bytes[..self.pos.min(self.bytes.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let column = self.src[line_start..self.pos.min(self.src.len())]
            .chars()
            .count()
            + 1;
        ParseError {
            line,
            column,
            message: message.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), ParseError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected {}", what)))
        }
    }

    fn literal(&mut self, word: &str, value: Json) -> Result<Json, ParseError> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("unexpected character"))
        }
    }

    fn value(&mut self) -> Result<Json, ParseError> {
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.nested(Parser::object),
            Some(b'[') => self.nested(Parser::array),
            Some(b'"') => self.string().map(Json::String),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(_) => Err(self.error("unexpected character")),
        }
    }

    fn nested(&mut self, f: fn(&mut Self) -> Result<Json, ParseError>) -> Result<Json, ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        let v = f(self);
        self.depth -= 1;
        v
    }

    fn object(&mut self) -> Result<Json, ParseError> {
        self.pos += 1; // '{'
        let mut members = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':', "':'")?;
            self.skip_ws();
            let value = self.value()?;
            members.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self) -> Result<Json, ParseError> {
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Json, ParseError> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek() {
            Some(b'0') => self.pos += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number: digits expected after '.'"));
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number: digits expected in exponent"));
            }
        }
        Ok(Json::Number(Number(self.src[start..self.pos].to_string())))
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self
            .bytes
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.error("truncated \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("invalid \\u escape"))?;
        let code = u32::from_str_radix(text, 16).map_err(|_| self.error("invalid \\u escape"))?;
        if text.starts_with('+') {
            return Err(self.error("invalid \\u escape"));
        }
        self.pos += 4;
        Ok(code)
    }

    fn unicode_escape(&mut self) -> Result<char, ParseError> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes[self.pos..].starts_with(b"\\u") {
                    return Err(self.error("lone surrogate in \\u escape"));
                }
                self.pos += 2;
                let low = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&low) {
                    return Err(self.error("invalid low surrogate in \\u escape"));
                }
                0x10000 + ((first - 0xD800) << 10) + (low - 0xDC00)
            }
            0xDC00..=0xDFFF => return Err(self.error("lone surrogate in \\u escape")),
            c => c,
        };
        char::from_u32(code).ok_or_else(|| self.error("invalid \\u escape"))
    }

    fn string(&mut self) -> Result<String, ParseError> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            // Copy the run up to the next quote, backslash or control byte.
            // The input is a &str and the run ends on an ASCII byte, so it is
            // valid UTF-8 on its own.
            let start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            out.push_str(&self.src[start..self.pos]);
            match self.peek() {
                None => return Err(self.error("unterminated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.pos += 1;
                    let c = match self.peek() {
                        Some(b'"') => '"',
                        Some(b'\\') => '\\',
                        Some(b'/') => '/',
                        Some(b'b') => '\u{8}',
                        Some(b'f') => '\u{c}',
                        Some(b'n') => '\n',
                        Some(b'r') => '\r',
                        Some(b't') => '\t',
                        Some(b'u') => {
                            self.pos += 1;
                            out.push(self.unicode_escape()?);
                            continue;
                        }
                        _ => return Err(self.error("invalid escape")),
                    };
                    self.pos += 1;
                    out.push(c);
                }
                Some(_) => return Err(self.error("control character in string")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_replaces_or_appends() {
        let mut v = parse(r#"{"a":1,"b":2,"a":3}"#).unwrap();
        v.set("a", Json::from("x"));
        v.set("c", Json::Null);
        assert_eq!(v.to_string(), r#"{"a":"x","b":2,"c":null}"#);
    }

    fn p(s: &str) -> Json {
        parse(s).unwrap_or_else(|e| panic!("{}: {}", s, e))
    }

    #[test]
    fn scalars() {
        assert_eq!(p("null"), Json::Null);
        assert_eq!(p(" true "), Json::Bool(true));
        assert_eq!(p("false"), Json::Bool(false));
        assert_eq!(p("\"\""), Json::String(String::new()));
    }

    #[test]
    fn numbers() {
        assert_eq!(p("0").as_number().unwrap().as_u64(), Some(0));
        assert_eq!(
            p("4294967295").as_number().unwrap().as_u32(),
            Some(u32::MAX)
        );
        assert_eq!(p("4294967296").as_number().unwrap().as_u32(), None);
        assert_eq!(
            p("18446744073709551615").as_number().unwrap().as_u64(),
            Some(u64::MAX)
        );
        assert_eq!(
            p("18446744073709551616").as_number().unwrap().as_u64(),
            None
        );
        assert_eq!(
            p("-9223372036854775808").as_number().unwrap().as_i64(),
            Some(i64::MIN)
        );
        assert_eq!(p("-1").as_number().unwrap().as_u64(), None);
        assert_eq!(p("1e3").as_number().unwrap().as_u64(), Some(1000));
        assert_eq!(p("2.5").as_number().unwrap().as_u64(), None);
        assert_eq!(p("-0.5e-3").as_number().unwrap().as_f64(), -0.0005);
        for bad in ["01", "-", "1.", ".5", "1e", "+1", "0x10", "1e+", "--1"] {
            assert!(parse(bad).is_err(), "{} should fail", bad);
        }
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            p(r#""a\"b\\c\/d\b\f\n\r\t""#),
            Json::String("a\"b\\c/d\u{8}\u{c}\n\r\t".into())
        );
        assert_eq!(p(r#""\u00e9\u4e2d""#), Json::String("é中".into()));
        assert_eq!(p(r#""\ud83d\ude00""#), Json::String("😀".into()));
        assert_eq!(p("\"héllo 😀\""), Json::String("héllo 😀".into()));
        for bad in [
            r#""\ud83d""#,
            r#""\ude00""#,
            r#""\ud83d\u0041""#,
            r#""\x""#,
            r#""\u12""#,
            "\"a\nb\"",
            "\"abc",
        ] {
            assert!(parse(bad).is_err(), "{} should fail", bad);
        }
    }

    #[test]
    fn containers() {
        let v = p(r#" { "a" : [1, {"b": null}, []], "c": {}, "a": "last" } "#);
        assert_eq!(v.get("a"), Some(&Json::String("last".into())));
        assert_eq!(v.get("c"), Some(&Json::Object(vec![])));
        assert!(v.get("zz").is_none());
        for bad in [
            "[1,]",
            "{\"a\":1,}",
            "{a:1}",
            "[1 2]",
            "{\"a\" 1}",
            "[",
            "{}x",
            "",
        ] {
            assert!(parse(bad).is_err(), "{} should fail", bad);
        }
    }

    #[test]
    fn depth_limit() {
        let deep = "[".repeat(10_000) + &"]".repeat(10_000);
        assert!(parse(&deep).unwrap_err().message.contains("too deep"));
    }

    #[test]
    fn error_position() {
        let e = parse("{\n  \"a\": tru\n}").unwrap_err();
        assert_eq!((e.line, e.column), (2, 8));
    }

    #[test]
    fn serialize_roundtrip() {
        let v = Json::object(vec![
            ("event", Json::from("exited")),
            ("exitCode", Json::from(137)),
            ("signal", Json::from(Some("SIGKILL"))),
            ("none", Json::from(None::<&str>)),
            ("text", Json::from("q\"\\\n\u{1}é")),
            ("list", Json::from(vec![1u32, 2])),
        ]);
        let text = v.to_string();
        assert_eq!(
            text,
            r#"{"event":"exited","exitCode":137,"signal":"SIGKILL","none":null,"text":"q\"\\\n\u0001é","list":[1,2]}"#
        );
        assert_eq!(parse(&text).unwrap(), v);
    }
}
