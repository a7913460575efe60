//! The deserializer behind [`super::parse`]: serde over a JSON value that
//! notes problems instead of stopping where it can, and learns from each
//! error it cannot get past so that the next pass gets further.
//!
//! Within one pass, a value whose JSON type does not match what the target
//! asks for (`deserialize_str` on a number) is noted and replaced by a
//! placeholder of the asked-for kind (`""`), which serde's visitors
//! accept, so the pass goes on. Errors only a visitor can see (a missing
//! field, an unknown one, an out-of-range variant, a type's own check)
//! end the pass; the driver then learns from the error's path and runs
//! again: an unknown field is hidden (and every unknown field of that
//! object is noted at once from then on), a missing one is supplied with a
//! placeholder, a rejected value becomes a placeholder, and a placeholder
//! that is itself rejected is read after its siblings.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::de::value::StrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde_json::{Map, Number, Value};

use super::{MAX_PROBLEMS, Problem, child, type_name};

/// Passes before giving up: each pass past the first notes a problem or
/// moves a rejected placeholder last, at most once per problem.
const MAX_PASSES: usize = 2 * MAX_PROBLEMS + 2;

pub(super) fn parse<T: DeserializeOwned>(config: &Value) -> Result<T, Vec<Problem>> {
    let mut plan = Plan::default();
    let found = RefCell::new(BTreeMap::new());
    for _ in 0..MAX_PASSES {
        let result = {
            let ctx = Ctx {
                plan: &plan,
                found: &found,
            };
            let root = De::new(Some(config), String::new(), &ctx);
            soft_scope(&ctx, "", true, || T::deserialize(root))
                .map_err(|error: Error| error.locate(""))
        };
        match result {
            Ok(value) if found.borrow().is_empty() => return Ok(value),
            Ok(_) => break,
            Err(error) => {
                if !plan.learn(error, &found) {
                    break;
                }
            }
        }
        if found.borrow().len() >= MAX_PROBLEMS {
            break;
        }
    }
    let mut problems: Vec<Problem> = found
        .into_inner()
        .into_iter()
        .map(|(path, message)| Problem { path, message })
        .take(MAX_PROBLEMS)
        .collect();
    if problems.is_empty() {
        problems.push(Problem::new("", "is not a valid config"));
    }
    Err(problems)
}

/// What earlier passes learnt, by JSON Pointer.
#[derive(Default)]
struct Plan {
    /// Unknown fields, skipped.
    hidden: BTreeSet<String>,
    /// Objects whose type refuses unknown fields.
    strict: BTreeSet<String>,
    /// Missing required fields, by the object that lacks them.
    supplied: BTreeMap<String, Vec<&'static str>>,
    /// Values read as placeholders.
    poisoned: BTreeSet<String>,
    /// Values (and so their ancestors) read after their siblings, because
    /// even their placeholder is rejected.
    last: BTreeSet<String>,
}

impl Plan {
    /// Learns from the error that ended a pass; false when there is
    /// nothing left to learn.
    fn learn(&mut self, error: Error, found: &RefCell<BTreeMap<String, String>>) -> bool {
        let path = error.path.unwrap_or_default();
        let note = |path: &str, message: String| {
            found.borrow_mut().entry(path.to_owned()).or_insert(message);
        };
        match error.kind {
            Kind::Unknown(_) => {
                note(&path, "is not a known field".into());
                if let Some(object) = error.object {
                    self.strict.insert(object);
                }
                self.hidden.insert(path)
            }
            Kind::Missing(field) => {
                note(&path, "is required".into());
                let fields = self
                    .supplied
                    .entry(error.object.unwrap_or_default())
                    .or_default();
                if fields.contains(&field) {
                    return false;
                }
                fields.push(field);
                true
            }
            Kind::Other(message) => {
                if self.poisoned.insert(path.clone()) {
                    note(&path, message);
                    true
                } else {
                    self.last.insert(path)
                }
            }
        }
    }

    fn is_last(&self, path: &str) -> bool {
        self.last.iter().any(|last| {
            last == path
                || last
                    .strip_prefix(path)
                    .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

/// One pass: the plan, and the problems noted so far (by path, the first
/// message for a path kept).
struct Ctx<'p> {
    plan: &'p Plan,
    found: &'p RefCell<BTreeMap<String, String>>,
}

impl Ctx<'_> {
    fn note(&self, path: &str, message: String) {
        self.found
            .borrow_mut()
            .entry(path.to_owned())
            .or_insert(message);
    }
}

thread_local! {
    /// Problems [`report_soft`] noted, one list per value being read.
    static SOFT: RefCell<Vec<Vec<String>>> = const { RefCell::new(Vec::new()) };
}

/// Pops the scope [`soft_scope`] pushed, even when the read panics, so a
/// later plain serde read is not taken for one under `parse`.
struct ScopeGuard;

impl Drop for ScopeGuard {
    fn drop(&mut self) {
        SOFT.with(|scopes| scopes.borrow_mut().pop());
    }
}

/// Runs `read` (the read of the value at `path`) and notes the problems a
/// [`super::Text`] reported inside it at `path`, unless the value is a
/// placeholder (`given` false), whose problems are not the config's.
fn soft_scope<R>(ctx: &Ctx<'_>, path: &str, given: bool, read: impl FnOnce() -> R) -> R {
    SOFT.with(|scopes| scopes.borrow_mut().push(Vec::new()));
    let guard = ScopeGuard;
    let result = read();
    let messages = SOFT.with(|scopes| scopes.borrow_mut().last_mut().map(std::mem::take));
    drop(guard);
    if !given {
        return result;
    }
    for message in messages.unwrap_or_default() {
        ctx.note(path, message);
    }
    result
}

/// Notes `problem` at the value being read when under `parse`; otherwise
/// hands it back, to be returned as an error.
pub(super) fn report_soft(problem: String) -> Result<(), String> {
    SOFT.with(|scopes| match scopes.borrow_mut().last_mut() {
        Some(scope) => {
            scope.push(problem);
            Ok(())
        }
        None => Err(problem),
    })
}

/// Why a pass stopped.
#[derive(Debug)]
pub(super) struct Error {
    kind: Kind,
    /// Where, once known.
    path: Option<String>,
    /// For a missing or unknown field, the object it belongs to.
    object: Option<String>,
}

#[derive(Debug)]
enum Kind {
    Missing(&'static str),
    Unknown(String),
    Other(String),
}

impl Error {
    fn other(message: impl Into<String>) -> Self {
        Self {
            kind: Kind::Other(message.into()),
            path: None,
            object: None,
        }
    }

    /// Places an error that came out of reading the value at `at`: a
    /// missing or unknown field of it, or the value itself.
    fn locate(mut self, at: &str) -> Self {
        if self.path.is_none() {
            match &self.kind {
                Kind::Missing(field) => {
                    self.path = Some(child(at, field));
                    self.object = Some(at.to_owned());
                }
                Kind::Unknown(field) => {
                    self.path = Some(child(at, field));
                    self.object = Some(at.to_owned());
                }
                Kind::Other(_) => self.path = Some(at.to_owned()),
            }
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Missing(field) => write!(f, "missing field {field}"),
            Kind::Unknown(field) => write!(f, "unknown field {field}"),
            Kind::Other(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(message: T) -> Self {
        Self::other(message.to_string())
    }

    fn invalid_type(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::other(format!("must be {expected}, found {unexpected}"))
    }

    fn invalid_value(unexpected: de::Unexpected<'_>, expected: &dyn de::Expected) -> Self {
        Self::other(format!("must be {expected}, found {unexpected}"))
    }

    fn invalid_length(length: usize, expected: &dyn de::Expected) -> Self {
        Self::other(format!("must be {expected}, found {length} items"))
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Self::other(format!(
            "must be one of {}, found {variant:?}",
            expected.join(", ")
        ))
    }

    fn unknown_field(field: &str, _expected: &'static [&'static str]) -> Self {
        Self {
            kind: Kind::Unknown(field.to_owned()),
            path: None,
            object: None,
        }
    }

    fn missing_field(field: &'static str) -> Self {
        Self {
            kind: Kind::Missing(field),
            path: None,
            object: None,
        }
    }

    fn duplicate_field(_field: &'static str) -> Self {
        Self::other("is given twice")
    }
}

/// A value being read: the JSON at `path`, or a placeholder (`None`).
struct De<'a, 'p> {
    value: Option<&'a Value>,
    path: String,
    ctx: &'a Ctx<'p>,
}

impl<'a, 'p> De<'a, 'p> {
    fn new(value: Option<&'a Value>, path: String, ctx: &'a Ctx<'p>) -> Self {
        Self { value, path, ctx }
    }

    /// The JSON to read, or `None` for a placeholder.
    fn source(&self) -> Option<&'a Value> {
        if self.ctx.plan.poisoned.contains(&self.path) {
            None
        } else {
            self.value
        }
    }

    /// Notes that the value is not what the target asked for.
    fn mismatch(&self, expected: &str, found: &Value) {
        self.ctx.note(
            &self.path,
            format!("must be {expected}, found {}", describe(found)),
        );
    }

    fn placeholder(&self) -> Self {
        Self::new(None, self.path.clone(), self.ctx)
    }

    fn integer<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        min: i128,
        max: i128,
    ) -> Result<V::Value, Error> {
        let expected = format!("a whole number from {min} to {max}");
        let number = match self.source() {
            None => return visitor.visit_u64(0),
            Some(Value::Number(number)) => number,
            Some(other) => {
                self.mismatch(&expected, other);
                return visitor.visit_u64(0);
            }
        };
        let whole = number
            .as_u64()
            .map(i128::from)
            .or_else(|| number.as_i64().map(i128::from));
        match whole {
            Some(n) if (min..=max).contains(&n) => match (u64::try_from(n), i64::try_from(n)) {
                (Ok(n), _) => visitor.visit_u64(n),
                (_, Ok(n)) => visitor.visit_i64(n),
                // Every whole JSON number fits one of the two.
                (Err(_), Err(_)) => visitor.visit_u64(0),
            },
            _ => {
                self.mismatch(&expected, &Value::Number(number.clone()));
                // Zero is in range for every integer type.
                visitor.visit_u64(0)
            }
        }
    }

    fn object<'de, V: Visitor<'de>>(
        self,
        visitor: V,
        fields: Option<&'static [&'static str]>,
    ) -> Result<V::Value, Error> {
        match self.source() {
            Some(Value::Object(map)) => {
                let access = MapDe::object(map, &self.path, fields, self.ctx);
                visitor.visit_map(access)
            }
            found => {
                if let Some(found) = found {
                    self.mismatch("an object", found);
                }
                let names = fields.unwrap_or_default();
                visitor.visit_map(MapDe::placeholders(names, &self.path, self.ctx))
            }
        }
    }
}

/// A value for a message: numbers as written, anything else by its type.
fn describe(value: &Value) -> String {
    match value {
        Value::Number(number) => number.to_string(),
        other => type_name(other).to_owned(),
    }
}

fn visit_number<'de, V: Visitor<'de>>(number: &Number, visitor: V) -> Result<V::Value, Error> {
    if let Some(n) = number.as_u64() {
        visitor.visit_u64(n)
    } else if let Some(n) = number.as_i64() {
        visitor.visit_i64(n)
    } else {
        visitor.visit_f64(number.as_f64().unwrap_or(f64::NAN))
    }
}

macro_rules! integers {
    ($($method:ident: $ty:ty),* $(,)?) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
                let path = self.path.clone();
                self.integer(visitor, i128::from(<$ty>::MIN), i128::from(<$ty>::MAX))
                    .map_err(|error: Error| error.locate(&path))
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for De<'_, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.source() {
            None | Some(Value::Null) => visitor.visit_unit(),
            Some(Value::Bool(flag)) => visitor.visit_bool(*flag),
            Some(Value::Number(number)) => visit_number(number, visitor),
            Some(Value::String(text)) => visitor.visit_str(text),
            Some(Value::Array(items)) => {
                visitor.visit_seq(SeqDe::items(items, &self.path, self.ctx))
            }
            Some(Value::Object(_)) => self.object(visitor, None),
        }
        .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.source() {
            Some(Value::Bool(flag)) => visitor.visit_bool(*flag),
            Some(other) => {
                self.mismatch("a boolean", other);
                visitor.visit_bool(false)
            }
            None => visitor.visit_bool(false),
        }
        .map_err(|error: Error| error.locate(&path))
    }

    integers! {
        deserialize_i8: i8,
        deserialize_i16: i16,
        deserialize_i32: i32,
        deserialize_i64: i64,
        deserialize_u8: u8,
        deserialize_u16: u16,
        deserialize_u32: u32,
        deserialize_u64: u64,
    }

    fn deserialize_f32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_f64(visitor)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.source() {
            Some(Value::Number(number)) => visit_number(number, visitor),
            Some(other) => {
                self.mismatch("a number", other);
                visitor.visit_f64(0.0)
            }
            None => visitor.visit_f64(0.0),
        }
        .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.source() {
            Some(Value::String(text)) => visitor.visit_str(text),
            Some(other) => {
                self.mismatch("a single character", other);
                visitor.visit_char(' ')
            }
            None => visitor.visit_char(' '),
        }
        .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.source() {
            Some(Value::String(text)) => visitor.visit_str(text),
            Some(other) => {
                self.mismatch("a string", other);
                visitor.visit_str("")
            }
            None => visitor.visit_str(""),
        }
        .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.source() {
            Some(Value::String(text)) => visitor.visit_str(text),
            Some(Value::Array(items)) => {
                visitor.visit_seq(SeqDe::items(items, &self.path, self.ctx))
            }
            Some(other) => {
                self.mismatch("a string or an array of bytes", other);
                visitor.visit_bytes(&[])
            }
            None => visitor.visit_bytes(&[]),
        }
        .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.source() {
            None | Some(Value::Null) => visitor.visit_none(),
            Some(_) => visitor.visit_some(self),
        }
        .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.source() {
            None | Some(Value::Null) => {}
            Some(other) => self.mismatch("null", other),
        }
        visitor
            .visit_unit()
            .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        let path = self.path.clone();
        visitor
            .visit_newtype_struct(self)
            .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.source() {
            Some(Value::Array(items)) => {
                visitor.visit_seq(SeqDe::items(items, &self.path, self.ctx))
            }
            found => {
                if let Some(found) = found {
                    self.mismatch("an array", found);
                }
                visitor.visit_seq(SeqDe::placeholders(0, &self.path, self.ctx))
            }
        }
        .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        match self.source() {
            Some(Value::Array(items)) if items.len() == len => {
                visitor.visit_seq(SeqDe::items(items, &self.path, self.ctx))
            }
            Some(Value::Array(items)) => {
                self.ctx.note(
                    &self.path,
                    format!("must be an array of {len} items, found {}", items.len()),
                );
                visitor.visit_seq(SeqDe::placeholders(len, &self.path, self.ctx))
            }
            found => {
                if let Some(found) = found {
                    self.mismatch(&format!("an array of {len} items"), found);
                }
                visitor.visit_seq(SeqDe::placeholders(len, &self.path, self.ctx))
            }
        }
        .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        self.object(visitor, None)
            .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let path = self.path.clone();
        self.object(visitor, Some(fields))
            .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        let path = self.path.clone();
        let ctx = self.ctx;
        let access = match self.source() {
            Some(Value::String(variant)) => EnumDe::Unit(variant.clone()),
            Some(Value::Object(map)) if map.len() == 1 => match map.iter().next() {
                Some((variant, value)) => EnumDe::WithValue {
                    variant: variant.clone(),
                    value: De::new(Some(value), child(&path, variant), ctx),
                },
                None => EnumDe::Placeholder {
                    variants,
                    value: self.placeholder(),
                },
            },
            found => {
                if let Some(found) = found {
                    self.mismatch("a string", found);
                }
                EnumDe::Placeholder {
                    variants,
                    value: self.placeholder(),
                }
            }
        };
        visitor
            .visit_enum(access)
            .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    fn deserialize_i128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        self.integer(visitor, i128::from(i64::MIN), i128::from(u64::MAX))
            .map_err(|error: Error| error.locate(&path))
    }

    fn deserialize_u128<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        let path = self.path.clone();
        self.integer(visitor, 0, i128::from(u64::MAX))
            .map_err(|error: Error| error.locate(&path))
    }
}

/// The entries of an object, or placeholders for a struct's fields.
struct MapDe<'a, 'p> {
    entries: std::vec::IntoIter<(String, Option<&'a Value>)>,
    pending: Option<(String, Option<&'a Value>)>,
    path: String,
    ctx: &'a Ctx<'p>,
}

impl<'a, 'p> MapDe<'a, 'p> {
    /// The object's entries as the plan says: unknown fields skipped (all
    /// of them once the type is known to refuse them), missing ones
    /// supplied, rejected ones last.
    fn object(
        map: &'a Map<String, Value>,
        path: &str,
        fields: Option<&'static [&'static str]>,
        ctx: &'a Ctx<'p>,
    ) -> Self {
        let plan = ctx.plan;
        let strict = fields.filter(|_| plan.strict.contains(path));
        let mut first = Vec::new();
        let mut last = Vec::new();
        for (key, value) in map {
            let key_path = child(path, key);
            if plan.hidden.contains(&key_path) {
                continue;
            }
            if strict.is_some_and(|fields| !fields.contains(&key.as_str())) {
                ctx.note(&key_path, "is not a known field".into());
                continue;
            }
            if plan.is_last(&key_path) {
                last.push((key.clone(), Some(value)));
            } else {
                first.push((key.clone(), Some(value)));
            }
        }
        if let Some(missing) = plan.supplied.get(path) {
            for field in missing {
                if !map.contains_key(*field) {
                    first.push(((*field).to_owned(), None));
                }
            }
        }
        first.extend(last);
        Self {
            entries: first.into_iter(),
            pending: None,
            path: path.to_owned(),
            ctx,
        }
    }

    /// A placeholder for each of `fields`.
    fn placeholders(fields: &'static [&'static str], path: &str, ctx: &'a Ctx<'p>) -> Self {
        let entries: Vec<(String, Option<&'a Value>)> = fields
            .iter()
            .map(|field| ((*field).to_owned(), None))
            .collect();
        Self {
            entries: entries.into_iter(),
            pending: None,
            path: path.to_owned(),
            ctx,
        }
    }
}

impl<'de> MapAccess<'de> for MapDe<'_, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let key_path = child(&self.path, &key);
        let read = seed
            .deserialize(key.as_str().into_deserializer())
            .map_err(|error: Error| match error.kind {
                Kind::Other(_) => error.locate(&key_path),
                Kind::Missing(_) | Kind::Unknown(_) => error.locate(&self.path),
            });
        self.pending = Some((key_path, value));
        read.map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (path, value) = self
            .pending
            .take()
            .ok_or_else(|| Error::other("a value was read before its key"))?;
        let ctx = self.ctx;
        let de = De::new(value, path.clone(), ctx);
        soft_scope(ctx, &path, value.is_some(), || seed.deserialize(de))
            .map_err(|error: Error| error.locate(&path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// The items of an array, or placeholders for a tuple's.
struct SeqDe<'a, 'p> {
    items: std::vec::IntoIter<Option<&'a Value>>,
    index: usize,
    path: String,
    ctx: &'a Ctx<'p>,
}

impl<'a, 'p> SeqDe<'a, 'p> {
    fn items(items: &'a [Value], path: &str, ctx: &'a Ctx<'p>) -> Self {
        let items: Vec<Option<&'a Value>> = items.iter().map(Some).collect();
        Self {
            items: items.into_iter(),
            index: 0,
            path: path.to_owned(),
            ctx,
        }
    }

    fn placeholders(count: usize, path: &str, ctx: &'a Ctx<'p>) -> Self {
        Self {
            items: vec![None; count].into_iter(),
            index: 0,
            path: path.to_owned(),
            ctx,
        }
    }
}

impl<'de> SeqAccess<'de> for SeqDe<'_, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some(item) = self.items.next() else {
            return Ok(None);
        };
        let path = child(&self.path, &self.index.to_string());
        self.index += 1;
        let ctx = self.ctx;
        let de = De::new(item, path.clone(), ctx);
        soft_scope(ctx, &path, item.is_some(), || seed.deserialize(de))
            .map(Some)
            .map_err(|error: Error| error.locate(&path))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// An enum's variant: a string names a unit variant, a one-field object a
/// variant with a value; a placeholder is the first variant.
enum EnumDe<'a, 'p> {
    Unit(String),
    WithValue {
        variant: String,
        value: De<'a, 'p>,
    },
    Placeholder {
        variants: &'static [&'static str],
        value: De<'a, 'p>,
    },
}

impl<'de, 'a, 'p> EnumAccess<'de> for EnumDe<'a, 'p> {
    type Error = Error;
    type Variant = VariantDe<'a, 'p>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, VariantDe<'a, 'p>), Error> {
        let (variant, value) = match self {
            EnumDe::Unit(variant) => (variant, None),
            EnumDe::WithValue { variant, value } => (variant, Some(value)),
            EnumDe::Placeholder { variants, value } => {
                let first = variants
                    .first()
                    .ok_or_else(|| Error::other("is an enum with no variants"))?;
                ((*first).to_owned(), Some(value))
            }
        };
        let name: StrDeserializer<'_, Error> = variant.as_str().into_deserializer();
        let read = seed.deserialize(name)?;
        Ok((read, VariantDe { value }))
    }
}

/// A variant's value, if it has one.
struct VariantDe<'a, 'p> {
    value: Option<De<'a, 'p>>,
}

impl<'de> VariantAccess<'de> for VariantDe<'_, '_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        match self.value {
            Some(value) => seed.deserialize(value),
            None => Err(Error::other(
                "must be an object naming the variant, found a string",
            )),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Some(value) => de::Deserializer::deserialize_tuple(value, len, visitor),
            None => Err(Error::other(
                "must be an object naming the variant, found a string",
            )),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Some(value) => de::Deserializer::deserialize_struct(value, "", fields, visitor),
            None => Err(Error::other(
                "must be an object naming the variant, found a string",
            )),
        }
    }
}
