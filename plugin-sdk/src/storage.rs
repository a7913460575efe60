//! Typed access to the plugin's store: JSON values by key, and a prefix
//! scan that hides cursors and pages.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::host::{Storage, StorageError};

/// Entries a [`Scan`] reads per page unless told otherwise.
pub const SCAN_PAGE: u32 = 256;

/// Why a typed storage call failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreError {
    /// The host refused or failed the call.
    Storage(StorageError),
    /// A stored value no longer reads as the type asked for; names the key
    /// and serde's reason.
    Corrupt {
        /// The key whose value does not read.
        key: String,
        /// serde's reason.
        reason: String,
    },
    /// A value does not serialize as JSON (a map with keys that are not
    /// strings, say); names the key and serde's reason.
    Unencodable {
        /// The key the value was for.
        key: String,
        /// serde's reason.
        reason: String,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Storage(error) => error.fmt(f),
            StoreError::Corrupt { key, reason } => {
                write!(f, "stored record {key} is corrupt: {reason}")
            }
            StoreError::Unencodable { key, reason } => {
                write!(f, "the record for {key} cannot be encoded: {reason}")
            }
        }
    }
}

impl std::error::Error for StoreError {}

impl From<StorageError> for StoreError {
    fn from(error: StorageError) -> Self {
        StoreError::Storage(error)
    }
}

/// Reads a JSON value stored at `key` as `T`.
pub fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt {
        key: key.to_owned(),
        reason: error.to_string(),
    })
}

/// Typed access to any [`Storage`]; in scope with `use
/// plugin_sdk::prelude::*`.
pub trait StorageExt: Storage {
    /// The JSON value at `key` as `T`, absent when there is none.
    fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StoreError> {
        self.get(key)?.map(|bytes| decode(key, &bytes)).transpose()
    }

    /// Stores `value` as JSON at `key`.
    fn set_json<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), StoreError> {
        let bytes = serde_json::to_vec(value).map_err(|error| StoreError::Unencodable {
            key: key.to_owned(),
            reason: error.to_string(),
        })?;
        Ok(self.set(key, &bytes)?)
    }

    /// Every entry whose key starts with `prefix`, in key order, read a
    /// page at a time as the iteration goes: stopping early reads no
    /// further page.
    fn scan_prefix<'s>(&'s self, prefix: &str) -> Scan<'s, Self> {
        Scan {
            storage: self,
            prefix: prefix.to_owned(),
            page_size: SCAN_PAGE,
            buffer: VecDeque::new(),
            cursor: None,
            done: false,
        }
    }

    /// [`StorageExt::scan_prefix`] with each value read as JSON `T`.
    fn scan_json<'s, T: DeserializeOwned>(&'s self, prefix: &str) -> ScanJson<'s, Self, T> {
        ScanJson {
            scan: self.scan_prefix(prefix),
            marker: PhantomData,
        }
    }
}

impl<S: Storage + ?Sized> StorageExt for S {}

/// The entries under a prefix, in key order; see
/// [`StorageExt::scan_prefix`]. After an error it ends.
pub struct Scan<'s, S: ?Sized> {
    storage: &'s S,
    prefix: String,
    page_size: u32,
    buffer: VecDeque<(String, Vec<u8>)>,
    cursor: Option<String>,
    done: bool,
}

impl<S: ?Sized> Scan<'_, S> {
    /// Reads `entries` entries per page (the host clamps it to between 1
    /// and its own page size).
    pub fn page_size(mut self, entries: u32) -> Self {
        self.page_size = entries;
        self
    }

    /// Starts after `key`: the scan yields only keys that sort after it
    /// (a key before the prefix starts it at the prefix), so a page of an
    /// index can resume where the last one ended.
    pub fn after(mut self, key: impl Into<String>) -> Self {
        self.cursor = Some(key.into());
        self
    }
}

impl<S: Storage + ?Sized> Iterator for Scan<'_, S> {
    type Item = Result<(String, Vec<u8>), StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.buffer.pop_front() {
                return Some(Ok(entry));
            }
            if self.done {
                return None;
            }
            match self
                .storage
                .scan(&self.prefix, self.page_size, self.cursor.as_deref())
            {
                Ok(page) => {
                    self.buffer.extend(page.entries);
                    match page.next_cursor {
                        Some(cursor) => self.cursor = Some(cursor),
                        None => self.done = true,
                    }
                }
                Err(error) => {
                    self.done = true;
                    return Some(Err(error));
                }
            }
        }
    }
}

/// The entries under a prefix with their values read as `T`; see
/// [`StorageExt::scan_json`].
pub struct ScanJson<'s, S: ?Sized, T> {
    scan: Scan<'s, S>,
    marker: PhantomData<fn() -> T>,
}

impl<S: ?Sized, T> ScanJson<'_, S, T> {
    /// Reads `entries` entries per page.
    pub fn page_size(mut self, entries: u32) -> Self {
        self.scan = self.scan.page_size(entries);
        self
    }
}

impl<S: Storage + ?Sized, T: DeserializeOwned> Iterator for ScanJson<'_, S, T> {
    type Item = Result<(String, T), StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.scan.next()? {
            Ok((key, bytes)) => decode(&key, &bytes).map(|value| (key, value)),
            Err(error) => Err(error.into()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestHost;
    use std::cell::Cell;

    /// Counts the pages a scan asks for.
    struct Counting<'a> {
        host: &'a TestHost,
        pages: Cell<u32>,
    }

    impl Storage for Counting<'_> {
        fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
            self.host.get(key)
        }
        fn set(&self, key: &str, value: &[u8]) -> Result<(), StorageError> {
            self.host.set(key, value)
        }
        fn delete(&self, key: &str) -> Result<bool, StorageError> {
            self.host.delete(key)
        }
        fn scan(
            &self,
            prefix: &str,
            limit: u32,
            cursor: Option<&str>,
        ) -> Result<crate::host::Page, StorageError> {
            self.pages.set(self.pages.get() + 1);
            self.host.scan(prefix, limit, cursor)
        }
    }

    fn filled(count: usize) -> TestHost {
        let host = TestHost::new();
        for i in 0..count {
            host.put_raw(&format!("item/{i:04}"), format!("{i}").as_bytes());
        }
        host.put_raw("itemz", b"0");
        host.put_raw("other/1", b"1");
        host
    }

    #[test]
    fn a_scan_walks_every_page_in_key_order_and_stays_in_its_prefix() {
        let host = filled(25);
        let counting = Counting {
            host: &host,
            pages: Cell::new(0),
        };
        let values: Vec<u32> = counting
            .scan_json::<u32>("item/")
            .page_size(10)
            .map(|entry| entry.unwrap().1)
            .collect();
        assert_eq!(values, (0..25).collect::<Vec<_>>());
        assert_eq!(counting.pages.get(), 3);
    }

    #[test]
    fn stopping_early_reads_no_further_page() {
        let host = filled(25);
        let counting = Counting {
            host: &host,
            pages: Cell::new(0),
        };
        let first: Vec<String> = counting
            .scan_prefix("item/")
            .page_size(10)
            .take(3)
            .map(|entry| entry.unwrap().0)
            .collect();
        assert_eq!(first, ["item/0000", "item/0001", "item/0002"]);
        assert_eq!(counting.pages.get(), 1);
    }

    #[test]
    fn typed_values_round_trip_and_corruption_names_the_key() {
        let host = TestHost::new().with_writes_outside_mutations();
        host.set_json("a", &vec![1, 2, 3]).unwrap();
        assert_eq!(host.get_json::<Vec<u32>>("a").unwrap(), Some(vec![1, 2, 3]));
        assert_eq!(host.get_json::<Vec<u32>>("b").unwrap(), None);
        let error = host.get_json::<String>("a").unwrap_err();
        assert!(matches!(&error, StoreError::Corrupt { key, .. } if key == "a"));
        assert!(error.to_string().starts_with("stored record a is corrupt"));
    }

    /// A store whose every call fails.
    struct Broken;

    impl Storage for Broken {
        fn get(&self, _: &str) -> Result<Option<Vec<u8>>, StorageError> {
            Err(StorageError::Unavailable("down".into()))
        }
        fn set(&self, _: &str, _: &[u8]) -> Result<(), StorageError> {
            Err(StorageError::Unavailable("down".into()))
        }
        fn delete(&self, _: &str) -> Result<bool, StorageError> {
            Err(StorageError::Unavailable("down".into()))
        }
        fn scan(
            &self,
            _: &str,
            _: u32,
            _: Option<&str>,
        ) -> Result<crate::host::Page, StorageError> {
            Err(StorageError::Unavailable("down".into()))
        }
    }

    #[test]
    fn a_failing_scan_reports_once_then_ends() {
        let mut scan = Broken.scan_json::<u32>("p/");
        assert!(matches!(
            scan.next(),
            Some(Err(StoreError::Storage(StorageError::Unavailable(_))))
        ));
        assert!(scan.next().is_none());
    }

    #[test]
    fn writes_outside_a_mutation_are_not_permitted() {
        let host = TestHost::new();
        assert!(matches!(
            host.set_json("a", &1),
            Err(StoreError::Storage(StorageError::NotPermitted(_)))
        ));
    }
}
