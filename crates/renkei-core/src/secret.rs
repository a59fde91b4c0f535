//! [`Secret`]: a value that must never reach a log line.

use std::fmt;

/// Wraps a credential (a token, an API key, a client secret) so that it cannot be printed by
/// accident: `Debug` shows `Secret([redacted])`, there is no `Display` and no `Serialize`, and
/// the only way to the inner value is the explicit [`Secret::expose`].
///
/// We write this by hand rather than use `secrecy` because we need `Clone` and `PartialEq` on
/// plain strings and structs without requiring `Zeroize` on every credential type; the value of
/// the type is the missing `Debug`/`Serialize`, which takes a dozen lines.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The wrapped value. Every call site is a place where a secret leaves its box: keep them
    /// few and never pass the result to a logger.
    pub fn expose(&self) -> &T {
        &self.0
    }

    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([redacted])")
    }
}

impl<'de, T: serde::Deserialize<'de>> serde::Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let s = Secret::new("hunter2".to_string());
        assert_eq!(format!("{s:?}"), "Secret([redacted])");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret([redacted]))");
        assert_eq!(s.expose(), "hunter2");
    }
}
