//! Where each key of a JSON document is: `serde_json::Value` keeps no positions, so task-definition
//! errors (an unknown key, a bad placeholder) would otherwise name no line. Also finds duplicate
//! keys, which `serde_json` silently resolves to the last one.
//!
//! Input is JSON that `serde_json` already accepted; the scanner only tracks positions.

use std::collections::BTreeMap;

/// A 1-based line and column.
pub type Position = (u64, u64);

/// Key path (`containerDefinitions[0].image`) → where the key is.
#[derive(Debug, Default)]
pub struct KeyPositions {
    pub at: BTreeMap<String, Position>,
    /// `(key path, position of the repeat, position of the first)`.
    pub duplicates: Vec<(String, Position, Position)>,
}

pub fn scan(text: &str) -> KeyPositions {
    let mut s = Scanner { chars: text.chars().collect(), i: 0, line: 1, column: 1, out: KeyPositions::default() };
    s.value("");
    s.out
}

struct Scanner {
    chars: Vec<char>,
    i: usize,
    line: u64,
    column: u64,
    out: KeyPositions,
}

impl Scanner {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.i).copied()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.column = 1;
        } else {
            self.column += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn value(&mut self, path: &str) {
        self.skip_ws();
        match self.peek() {
            Some('{') => self.object(path),
            Some('[') => self.array(path),
            Some('"') => {
                self.string();
            }
            Some(_) => {
                while self.peek().is_some_and(|c| !matches!(c, ',' | ']' | '}') && !c.is_whitespace()) {
                    self.bump();
                }
            }
            None => {}
        }
    }

    fn string(&mut self) -> String {
        let mut out = String::new();
        self.bump(); // the opening quote
        while let Some(c) = self.bump() {
            match c {
                '"' => break,
                '\\' => {
                    if let Some(escaped) = self.bump() {
                        out.push(escaped);
                    }
                }
                c => out.push(c),
            }
        }
        out
    }

    fn object(&mut self, path: &str) {
        self.bump(); // {
        let mut seen: BTreeMap<String, Position> = BTreeMap::new();
        loop {
            self.skip_ws();
            match self.peek() {
                Some('"') => {}
                Some(',') => {
                    self.bump();
                    continue;
                }
                _ => {
                    self.bump(); // } (or the end)
                    return;
                }
            }
            let at = (self.line, self.column);
            let key = self.string();
            let key_path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            match seen.get(&key) {
                Some(first) => self.out.duplicates.push((key_path.clone(), at, *first)),
                None => {
                    seen.insert(key, at);
                    self.out.at.entry(key_path.clone()).or_insert(at);
                }
            }
            self.skip_ws();
            self.bump(); // :
            self.value(&key_path);
        }
    }

    fn array(&mut self, path: &str) {
        self.bump(); // [
        let mut index = 0;
        loop {
            self.skip_ws();
            match self.peek() {
                Some(']') | None => {
                    self.bump();
                    return;
                }
                Some(',') => {
                    self.bump();
                }
                Some(_) => {
                    self.value(&format!("{path}[{index}]"));
                    index += 1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_at_their_line_and_column_with_array_indices() {
        let text = "{\n  \"family\": \"x\",\n  \"containerDefinitions\": [\n    {\"name\": \"a\"},\n    {\"name\": \"b\", \"portMapings\": [{\"containerPort\": 80}]}\n  ]\n}";
        let k = scan(text);
        assert_eq!(k.at.get("family"), Some(&(2, 3)));
        assert_eq!(k.at.get("containerDefinitions[0].name"), Some(&(4, 6)));
        assert_eq!(k.at.get("containerDefinitions[1].portMapings"), Some(&(5, 19)));
        assert_eq!(k.at.get("containerDefinitions[1].portMapings[0].containerPort"), Some(&(5, 36)));
        assert!(k.duplicates.is_empty());
    }

    #[test]
    fn a_repeated_key_is_a_duplicate_and_escapes_do_not_confuse_the_scan() {
        let k = scan(r#"{"a": "x\"}{", "b": 1, "a": 2}"#);
        assert_eq!(k.duplicates, vec![("a".to_string(), (1, 24), (1, 2))]);
        assert_eq!(k.at.get("b"), Some(&(1, 16)));
    }
}
