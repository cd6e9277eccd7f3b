//! What a search asks for, reduced to words before any store sees it.
//!
//! People type anything into a search box: quotes, `AND`, `*`, emoji, a pasted paragraph.
//! Each store's full-text syntax (PostgreSQL `tsquery`, SQLite FTS5 `MATCH`) gives some of
//! those characters a meaning, and a syntax error there would be an answer the user cannot
//! act on. So a query is cut into its words (letters and digits), each searched as a prefix,
//! all of them required; both stores build their own query from these words alone, passed
//! as bind parameters. The same query finds the same messages in both.

/// The longest query accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 256;

/// The most words a query may have; more are refused, not silently dropped.
pub const MAX_TERMS: usize = 8;

/// Why a query cannot be searched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SearchError {
    /// The query holds no letter or digit.
    #[error("type a word to search for")]
    Empty,
    /// The query is longer than [`MAX_QUERY_CHARS`].
    #[error("a search is at most {MAX_QUERY_CHARS} characters")]
    TooLong,
    /// The query has more than [`MAX_TERMS`] words.
    #[error("a search is at most {MAX_TERMS} words")]
    TooManyWords,
}

/// The words of a query, lower-cased, each matched as a word prefix; every one must match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerms(Vec<String>);

impl SearchTerms {
    /// The words of `query`, or why it cannot be searched.
    pub fn parse(query: &str) -> Result<Self, SearchError> {
        if query.chars().count() > MAX_QUERY_CHARS {
            return Err(SearchError::TooLong);
        }
        let mut words: Vec<String> = Vec::new();
        for word in query.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
            let word = word.to_lowercase();
            if !words.contains(&word) {
                words.push(word);
            }
        }
        match words.len() {
            0 => Err(SearchError::Empty),
            n if n > MAX_TERMS => Err(SearchError::TooManyWords),
            _ => Ok(Self(words)),
        }
    }

    /// The words.
    pub fn words(&self) -> &[String] {
        &self.0
    }

    /// The words as a PostgreSQL `tsquery` (`w1:* & w2:*`); safe because every word holds only
    /// letters and digits, and it is still passed as a bind parameter.
    pub fn tsquery(&self) -> String {
        self.0.iter().map(|w| format!("{w}:*")).collect::<Vec<_>>().join(" & ")
    }

    /// The words as an SQLite FTS5 query (`"w1"* "w2"*`: every word, each a prefix).
    pub fn fts5(&self) -> String {
        self.0.iter().map(|w| format!("\"{w}\"*")).collect::<Vec<_>>().join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_syntax_becomes_words() {
        let terms = SearchTerms::parse(r#"  "Deploy" AND (friday*) -- ';DROP TABLE x  "#).expect("words");
        assert_eq!(terms.words(), ["deploy", "and", "friday", "drop", "table", "x"]);
        assert_eq!(SearchTerms::parse("Café café").expect("words").words(), ["café"]);
        assert_eq!(terms.tsquery().split(" & ").count(), 6);
        assert!(SearchTerms::parse("hello").expect("words").fts5() == "\"hello\"*");
    }

    #[test]
    fn unusable_queries_get_a_reason() {
        assert_eq!(SearchTerms::parse("  *** !!! "), Err(SearchError::Empty));
        assert_eq!(SearchTerms::parse(&"a".repeat(MAX_QUERY_CHARS + 1)), Err(SearchError::TooLong));
        assert_eq!(SearchTerms::parse("a b c d e f g h i"), Err(SearchError::TooManyWords));
    }
}
