use super::ast::{AttrPath, CompareOp, Filter, Value};
use crate::CoreError;

/// Filters longer than this are refused before parsing.
pub const MAX_FILTER_LEN: usize = 8192;
/// Nesting deeper than this is refused (keeps recursion bounded on hostile input).
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Word(String),
    Str(String),
}

fn err(msg: impl Into<String>) -> CoreError {
    CoreError::InvalidFilter(msg.into())
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, ':' | '.' | '_' | '-' | '$' | '+')
}

fn tokenize(input: &str) -> Result<Vec<Tok>, CoreError> {
    let mut toks = Vec::new();
    let mut it = input.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        match c {
            c if c.is_whitespace() => {
                it.next();
            }
            '(' => {
                it.next();
                toks.push(Tok::LParen);
            }
            ')' => {
                it.next();
                toks.push(Tok::RParen);
            }
            '[' => {
                it.next();
                toks.push(Tok::LBracket);
            }
            ']' => {
                it.next();
                toks.push(Tok::RBracket);
            }
            '"' => {
                // Find the closing quote, honouring backslash escapes, then let serde_json
                // decode the JSON string literal (RFC 7644 strings are JSON strings).
                it.next();
                let mut end = None;
                let mut escaped = false;
                for (j, ch) in it.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if ch == '\\' {
                        escaped = true;
                    } else if ch == '"' {
                        end = Some(j);
                        break;
                    }
                }
                let end = end.ok_or_else(|| err("unterminated string in filter"))?;
                let lit = input.get(i..=end).unwrap_or_default();
                let s: String = serde_json::from_str(lit)
                    .map_err(|_| err(format!("invalid string literal {lit} in filter")))?;
                toks.push(Tok::Str(s));
            }
            c if is_word_char(c) => {
                let mut end = i;
                while let Some(&(j, ch)) = it.peek() {
                    if !is_word_char(ch) {
                        break;
                    }
                    end = j + ch.len_utf8();
                    it.next();
                }
                toks.push(Tok::Word(input.get(i..end).unwrap_or_default().to_owned()));
            }
            other => return Err(err(format!("unexpected character {other:?} in filter"))),
        }
    }
    Ok(toks)
}

/// Parses `[uri:]name[.sub]`.
pub fn parse_attr_path(word: &str) -> Result<AttrPath, CoreError> {
    let (uri, rest) = match word.rfind(':') {
        Some(pos) => (
            Some(word.get(..pos).unwrap_or_default().to_owned()),
            word.get(pos + 1..).unwrap_or_default(),
        ),
        None => (None, word),
    };
    let (name, sub) = match rest.split_once('.') {
        Some((n, s)) => (n, Some(s)),
        None => (rest, None),
    };
    let valid = |s: &str| {
        let mut chars = s.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '$')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !valid(name) || sub.is_some_and(|s| !valid(s)) {
        return Err(err(format!("{word:?} is not a valid attribute path")));
    }
    Ok(AttrPath {
        uri,
        name: name.to_owned(),
        sub: sub.map(str::to_owned),
    })
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn expect(&mut self, tok: Tok, what: &str) -> Result<(), CoreError> {
        match self.next() {
            Some(t) if t == tok => Ok(()),
            _ => Err(err(format!("expected {what} in filter"))),
        }
    }

    fn or_expr(&mut self, depth: usize) -> Result<Filter, CoreError> {
        if depth > MAX_DEPTH {
            return Err(err(format!(
                "filter is nested deeper than {MAX_DEPTH} levels"
            )));
        }
        let mut left = self.and_expr(depth)?;
        while self.peek_keyword("or") {
            self.next();
            let right = self.and_expr(depth)?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and_expr(&mut self, depth: usize) -> Result<Filter, CoreError> {
        let mut left = self.unary(depth)?;
        while self.peek_keyword("and") {
            self.next();
            let right = self.unary(depth)?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self, depth: usize) -> Result<Filter, CoreError> {
        if self.peek_keyword("not") && self.toks.get(self.pos + 1) == Some(&Tok::LParen) {
            self.next();
            self.next();
            let inner = self.or_expr(depth + 1)?;
            self.expect(Tok::RParen, "')'")?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        match self.next() {
            Some(Tok::LParen) => {
                let inner = self.or_expr(depth + 1)?;
                self.expect(Tok::RParen, "')'")?;
                Ok(inner)
            }
            Some(Tok::Word(w)) => self.attr_expr(&w, depth),
            Some(Tok::Str(s)) => Err(err(format!(
                "expected an attribute name, found the string {s:?}"
            ))),
            Some(_) => Err(err("expected an attribute name or '('")),
            None => Err(err("filter ended where an expression was expected")),
        }
    }

    fn attr_expr(&mut self, word: &str, depth: usize) -> Result<Filter, CoreError> {
        let attr = parse_attr_path(word)?;
        match self.next() {
            Some(Tok::LBracket) => {
                if attr.sub.is_some() {
                    return Err(err(format!("{word}[...]: a value filter applies to a multi-valued attribute, not a sub-attribute")));
                }
                let mut inner = self.or_expr(depth + 1)?;
                self.expect(Tok::RBracket, "']'")?;
                // Entra ID's `emails[type eq "work"].value eq "x"`, outside RFC 7644's
                // grammar: the comparison after `]` applies to the same element, so it is
                // `emails[type eq "work" and value eq "x"]`.
                if let Some(Tok::Word(w)) = self.peek() {
                    if let Some(sub) = w.strip_prefix('.') {
                        let sub = sub.to_owned();
                        self.next();
                        let sub_attr = parse_attr_path(&sub)
                            .ok()
                            .filter(|a| a.uri.is_none() && a.sub.is_none())
                            .ok_or_else(|| {
                                err(format!(
                                    "{word}[...].{sub}: {sub:?} is not a sub-attribute name"
                                ))
                            })?;
                        let cmp = self.comparison(sub_attr, &format!("{word}[...].{sub}"))?;
                        inner = Filter::And(Box::new(inner), Box::new(cmp));
                    }
                }
                Ok(Filter::ValuePath {
                    attr,
                    filter: Box::new(inner),
                })
            }
            Some(Tok::Word(_)) => {
                self.pos -= 1;
                self.comparison(attr, word)
            }
            _ => Err(err(format!("expected an operator after {word:?}"))),
        }
    }

    /// `pr`, or an operator and a value, after the attribute `attr` (spelled `word`).
    fn comparison(&mut self, attr: AttrPath, word: &str) -> Result<Filter, CoreError> {
        match self.next() {
            Some(Tok::Word(op)) if op.eq_ignore_ascii_case("pr") => Ok(Filter::Present(attr)),
            Some(Tok::Word(op)) => {
                let op = CompareOp::from_keyword(&op).ok_or_else(|| {
                    err(format!(
                        "unknown operator {op:?}; expected one of eq ne co sw ew gt ge lt le pr"
                    ))
                })?;
                let value = self.comp_value()?;
                Ok(Filter::Compare { attr, op, value })
            }
            _ => Err(err(format!("expected an operator after {word:?}"))),
        }
    }

    fn comp_value(&mut self) -> Result<Value, CoreError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Value::String(s)),
            Some(Tok::Word(w)) => match w.as_str() {
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "null" => Ok(Value::Null),
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| {
                        err(format!(
                            "{w:?} is not a value; strings must be in double quotes"
                        ))
                    }),
            },
            _ => Err(err(
                "expected a value (a \"string\", number, true, false or null)",
            )),
        }
    }
}

/// Parses a complete filter expression.
pub fn parse_filter(input: &str) -> Result<Filter, CoreError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(err(format!("filter is longer than {MAX_FILTER_LEN} bytes")));
    }
    let toks = tokenize(input)?;
    if toks.is_empty() {
        return Err(err("filter is empty"));
    }
    let mut p = Parser { toks, pos: 0 };
    let f = p.or_expr(0)?;
    if p.pos < p.toks.len() {
        return Err(err("unexpected text after the end of the filter"));
    }
    Ok(f)
}

/// A PATCH `path` (RFC 7644 §3.5.2): `attrPath` or `valuePath [ "." subAttr ]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchPath {
    pub attr: AttrPath,
    pub filter: Option<Filter>,
    /// The sub-attribute after a value filter: `emails[type eq "work"].value`.
    pub sub: Option<String>,
}

pub fn parse_path(input: &str) -> Result<PatchPath, CoreError> {
    let to_path_err = |e: CoreError| CoreError::InvalidPath(format!("invalid path {input:?}: {e}"));
    let input = input.trim();
    match input.find('[') {
        None => Ok(PatchPath {
            attr: parse_attr_path(input).map_err(to_path_err)?,
            filter: None,
            sub: None,
        }),
        Some(open) => {
            let close = input.rfind(']').ok_or_else(|| {
                CoreError::InvalidPath(format!("invalid path {input:?}: missing ']'"))
            })?;
            let attr =
                parse_attr_path(input.get(..open).unwrap_or_default()).map_err(to_path_err)?;
            let filter = parse_filter(input.get(open + 1..close).unwrap_or_default())
                .map_err(to_path_err)?;
            let rest = input.get(close + 1..).unwrap_or_default();
            let sub = match rest.strip_prefix('.') {
                Some(s)
                    if !s.is_empty()
                        && s.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$') =>
                {
                    Some(s.to_owned())
                }
                None if rest.is_empty() => None,
                _ => {
                    return Err(CoreError::InvalidPath(format!(
                        "invalid path {input:?}: unexpected {rest:?} after ']'"
                    )))
                }
            };
            Ok(PatchPath {
                attr,
                filter: Some(filter),
                sub,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(s: &str) -> String {
        parse_filter(s)
            .map(|f| f.to_string())
            .unwrap_or_else(|e| format!("ERR {e}"))
    }

    #[test]
    fn precedence_and_binds_tighter_than_or() {
        let f = parse_filter(r#"a eq "1" or b eq "2" and c eq "3""#).unwrap();
        assert!(matches!(f, Filter::Or(_, ref r) if matches!(**r, Filter::And(..))));
    }

    #[test]
    fn prints_canonically() {
        assert_eq!(
            roundtrip(r#"userName Eq "bjensen""#),
            r#"userName eq "bjensen""#
        );
        assert_eq!(
            roundtrip(r#"(a eq 1 or b pr) and not (c lt 2.5)"#),
            r#"(a eq 1 or b pr) and not (c lt 2.5)"#
        );
        assert_eq!(
            roundtrip(r#"emails[type eq "work" and value co "@x.com"] and x ne null"#),
            r#"emails[type eq "work" and value co "@x.com"] and x ne null"#
        );
        assert_eq!(
            roundtrip(r#"a eq "x" and (b eq "y" and c eq "z")"#),
            r#"a eq "x" and (b eq "y" and c eq "z")"#
        );
    }

    #[test]
    fn entra_value_path_with_a_sub_attribute_comparison() {
        assert_eq!(
            roundtrip(r#"emails[type eq "work"].value eq "x@y.com""#),
            r#"emails[type eq "work" and value eq "x@y.com"]"#
        );
        assert_eq!(
            roundtrip(r#"emails[type eq "work" or primary eq true].value co "@y" and userName pr"#),
            r#"emails[(type eq "work" or primary eq true) and value co "@y"] and userName pr"#
        );
        assert_eq!(
            roundtrip(r#"addresses[type eq "work"].postalCode pr"#),
            r#"addresses[type eq "work" and postalCode pr]"#
        );
        for bad in [
            r#"emails[type eq "work"].value"#,
            r#"emails[type eq "work"].value eq"#,
            r#"emails[type eq "work"].value.x eq "a""#,
            r#"emails[type eq "work"]. eq "a""#,
            r#"emails[type eq "work"].urn:x:value eq "a""#,
        ] {
            assert!(
                matches!(parse_filter(bad), Err(CoreError::InvalidFilter(_))),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn schema_qualified_and_sub_attributes() {
        let f = parse_filter(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "X""#,
        )
        .unwrap();
        let Filter::Compare { attr, .. } = f else {
            panic!("not a compare")
        };
        assert_eq!(
            attr.uri.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(attr.name, "department");
        let f = parse_filter(r#"name.familyName sw "J""#).unwrap();
        let Filter::Compare { attr, .. } = f else {
            panic!("not a compare")
        };
        assert_eq!(attr.sub.as_deref(), Some("familyName"));
    }

    #[test]
    fn rejects_garbage() {
        for bad in [
            "",
            "userName",
            "userName eq",
            "userName eq bjensen",
            "userName xx \"a\"",
            "(userName eq \"a\"",
            "userName eq \"a\")",
            "userName eq \"a",
            "1abc eq \"x\"",
            "userName eq \"a\" and",
            "emails[type eq \"work\"",
            "'; DROP TABLE users; --",
            "userName eq \"a\" \"b\"",
            "not userName eq \"a\"",
        ] {
            assert!(
                matches!(parse_filter(bad), Err(CoreError::InvalidFilter(_))),
                "{bad:?} should be rejected"
            );
        }
    }

    #[test]
    fn depth_is_bounded() {
        let deep = format!("{}a eq 1{}", "(".repeat(200), ")".repeat(200));
        assert!(
            matches!(parse_filter(&deep), Err(CoreError::InvalidFilter(m)) if m.contains("nested"))
        );
    }

    #[test]
    fn patch_paths() {
        let p = parse_path(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(p.attr.name, "emails");
        assert_eq!(p.sub.as_deref(), Some("value"));
        assert!(p.filter.is_some());
        let p = parse_path(r#"members[value eq "2819c223-7f76-453a-919d-413861904646"]"#).unwrap();
        assert_eq!(p.attr.name, "members");
        assert!(p.sub.is_none());
        assert!(parse_path("members[value eq").is_err());
        assert!(parse_path("bad path").is_err());
    }
}
