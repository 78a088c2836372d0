use crate::CoreError;

/// Largest page a list request may ask for; larger `count` values are clamped (RFC 7644
/// §3.4.2.4 lets a provider return fewer results than asked).
pub const MAX_PAGE_SIZE: i64 = 1000;
/// The page size of a list that names no `count`, unless a dialect documents its own.
pub const DEFAULT_PAGE_SIZE: i64 = 100;

/// A validated 1-based page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub start_index: i64,
    pub count: i64,
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            start_index: 1,
            count: DEFAULT_PAGE_SIZE,
        }
    }
}

impl PageRequest {
    /// Builds a page from raw query values. Non-integers are rejected; out-of-range integers
    /// follow RFC 7644 §3.4.2.4: startIndex < 1 means 1, a negative count means 0. Without a
    /// count the page holds `default` resources (at most [`MAX_PAGE_SIZE`]).
    pub fn parse(
        start_index: Option<&str>,
        count: Option<&str>,
        default: i64,
    ) -> Result<Self, CoreError> {
        let start = match start_index {
            None => 1,
            Some(s) => parse_int("startIndex", s)?.max(1),
        };
        let count = match count {
            None => default.clamp(0, MAX_PAGE_SIZE),
            Some(s) => parse_int("count", s)?.clamp(0, MAX_PAGE_SIZE),
        };
        Ok(Self {
            start_index: start,
            count,
        })
    }

    pub fn offset(&self) -> i64 {
        self.start_index - 1
    }
}

fn parse_int(name: &str, s: &str) -> Result<i64, CoreError> {
    s.trim().parse::<i64>().map_err(|_| {
        CoreError::InvalidValue(format!(
            "{name} must be an integer between -9223372036854775808 and 9223372036854775807, got {s:?}"
        ))
    })
}

/// One page of results with the total number of matches.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub start_index: i64,
}
