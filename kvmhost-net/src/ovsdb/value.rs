//! OVSDB data: atoms, values (sets and maps) and rows, in their RFC 7047 §5.1 JSON notation.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::Error;

/// A row (or a subset of one): column name → value.
///
/// ```
/// use kvmhost_net::ovsdb::{Row, Value};
/// let mut row = Row::new();
/// row.insert("name".into(), Value::from("br0"));
/// assert_eq!(row["name"].as_str(), Some("br0"));
/// ```
pub type Row = BTreeMap<String, Value>;

/// A row UUID as OVSDB writes it (`["uuid", "…"]` on the wire).
///
/// ```
/// use kvmhost_net::ovsdb::Uuid;
/// let u = Uuid::parse("6e41a0dc-b7f0-4669-84c3-6aa6deaf3ced").unwrap();
/// assert_eq!(u.as_str(), "6e41a0dc-b7f0-4669-84c3-6aa6deaf3ced");
/// assert!(Uuid::parse("not-a-uuid").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Uuid(String);

impl Uuid {
    /// Checks the 8-4-4-4-12 hexadecimal form and keeps it lower-cased.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Uuid;
    /// assert!(Uuid::parse("6E41A0DC-B7F0-4669-84C3-6AA6DEAF3CED").is_ok());
    /// ```
    pub fn parse(s: &str) -> Result<Self, Error> {
        let ok = s.len() == 36
            && s.char_indices()
                .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { c == '-' } else { c.is_ascii_hexdigit() });
        if ok {
            Ok(Uuid(s.to_ascii_lowercase()))
        } else {
            Err(Error::Value(format!("{s:?} is not a UUID")))
        }
    }

    /// The text form.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Uuid;
    /// assert_eq!(Uuid::parse("00000000-0000-0000-0000-000000000000").unwrap().as_str().len(), 36);
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Uuid {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Uuid::parse(&s)
    }
}

impl From<Uuid> for String {
    fn from(u: Uuid) -> String {
        u.0
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One OVSDB atom (RFC 7047 §5.1 `<atom>`).
///
/// ```
/// use kvmhost_net::ovsdb::Atom;
/// assert_eq!(Atom::named("new_port").to_json(), serde_json::json!(["named-uuid", "new_port"]));
/// assert_eq!(Atom::Integer(200).to_json(), serde_json::json!(200));
/// ```
#[derive(Debug, Clone, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "Json", into = "Json")]
pub enum Atom {
    /// A string.
    String(String),
    /// An integer.
    Integer(i64),
    /// A real number.
    Real(f64),
    /// A boolean.
    Boolean(bool),
    /// A row reference: `["uuid", "…"]`.
    Uuid(Uuid),
    /// A row inserted earlier in the same transaction: `["named-uuid", "id"]`.
    NamedUuid(String),
}

impl Atom {
    /// A `["named-uuid", name]` reference to a row inserted by the same transaction.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Atom;
    /// assert!(matches!(Atom::named("p"), Atom::NamedUuid(n) if n == "p"));
    /// ```
    pub fn named(name: &str) -> Self {
        Atom::NamedUuid(name.to_string())
    }

    /// The JSON notation.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Atom;
    /// assert_eq!(Atom::Boolean(true).to_json(), serde_json::json!(true));
    /// ```
    pub fn to_json(&self) -> Json {
        match self {
            Atom::String(s) => Json::String(s.clone()),
            Atom::Integer(i) => Json::from(*i),
            Atom::Real(r) => Json::from(*r),
            Atom::Boolean(b) => Json::Bool(*b),
            Atom::Uuid(u) => serde_json::json!(["uuid", u.as_str()]),
            Atom::NamedUuid(n) => serde_json::json!(["named-uuid", n]),
        }
    }

    /// Reads the JSON notation.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Atom;
    /// assert_eq!(Atom::from_json(&serde_json::json!(1.5)).unwrap(), Atom::Real(1.5));
    /// assert!(Atom::from_json(&serde_json::json!(["set", []])).is_err());
    /// ```
    pub fn from_json(j: &Json) -> Result<Self, Error> {
        Ok(match j {
            Json::String(s) => Atom::String(s.clone()),
            Json::Bool(b) => Atom::Boolean(*b),
            Json::Number(n) => match n.as_i64() {
                Some(i) => Atom::Integer(i),
                None => Atom::Real(n.as_f64().ok_or_else(|| Error::Value(format!("number {n} out of range")))?),
            },
            Json::Array(a) if a.len() == 2 => match (a[0].as_str(), a[1].as_str()) {
                (Some("uuid"), Some(u)) => Atom::Uuid(Uuid::parse(u)?),
                (Some("named-uuid"), Some(n)) => Atom::NamedUuid(n.to_string()),
                _ => return Err(Error::Value(format!("{j} is not an atom"))),
            },
            _ => return Err(Error::Value(format!("{j} is not an atom"))),
        })
    }
}

impl TryFrom<Json> for Atom {
    type Error = Error;
    fn try_from(j: Json) -> Result<Self, Error> {
        Atom::from_json(&j)
    }
}

impl From<Atom> for Json {
    fn from(a: Atom) -> Json {
        a.to_json()
    }
}

/// A column value (RFC 7047 §5.1 `<value>`): an atom, a set or a map.
///
/// OVSDB writes a one-element set as the bare atom; [`Value::normalized`] gives the one form to
/// compare.
///
/// ```
/// use kvmhost_net::ovsdb::{Atom, Value};
/// let trunks = Value::set([Atom::Integer(300), Atom::Integer(100)]);
/// assert_eq!(trunks.to_json(), serde_json::json!(["set", [300, 100]]));
/// assert_eq!(Value::from_json(&serde_json::json!(["set", [7]])).unwrap().normalized(), Value::from(7i64));
/// ```
#[derive(Debug, Clone, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "Json", into = "Json")]
pub enum Value {
    /// A single atom (also a one-element set).
    Atom(Atom),
    /// `["set", [atoms]]`.
    Set(Vec<Atom>),
    /// `["map", [[key, value], …]]`.
    Map(Vec<(Atom, Atom)>),
}

impl Value {
    /// A set of atoms.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Atom, Value};
    /// assert_eq!(Value::set([]).atoms().len(), 0);
    /// ```
    pub fn set(atoms: impl IntoIterator<Item = Atom>) -> Self {
        Value::Set(atoms.into_iter().collect())
    }

    /// The empty set (an optional column left empty).
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Value;
    /// assert_eq!(Value::empty().to_json(), serde_json::json!(["set", []]));
    /// ```
    pub fn empty() -> Self {
        Value::Set(Vec::new())
    }

    /// A map of string keys to string values (`other_config`, `options`, …).
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Value;
    /// let m = Value::string_map([("peer", "patch-b")]);
    /// assert_eq!(m.to_json(), serde_json::json!(["map", [["peer", "patch-b"]]]));
    /// ```
    pub fn string_map<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Value::Map(pairs.into_iter().map(|(k, v)| (Atom::String(k.into()), Atom::String(v.into()))).collect())
    }

    /// The atoms of a set (a bare atom is a one-element set; a map gives nothing).
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Atom, Value};
    /// assert_eq!(Value::from("x").atoms(), vec![Atom::String("x".into())]);
    /// ```
    pub fn atoms(&self) -> Vec<Atom> {
        match self {
            Value::Atom(a) => vec![a.clone()],
            Value::Set(s) => s.clone(),
            Value::Map(_) => Vec::new(),
        }
    }

    /// The string, if this is a single string atom.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Value;
    /// assert_eq!(Value::from("netdev").as_str(), Some("netdev"));
    /// ```
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Atom(Atom::String(s)) => Some(s),
            Value::Set(s) if s.len() == 1 => match &s[0] {
                Atom::String(s) => Some(s),
                _ => None,
            },
            _ => None,
        }
    }

    /// The entries of a map value with string keys and values.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Value;
    /// assert_eq!(Value::string_map([("a", "b")]).to_string_map()["a"], "b");
    /// ```
    pub fn to_string_map(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        if let Value::Map(m) = self {
            for (k, v) in m {
                if let (Atom::String(k), Atom::String(v)) = (k, v) {
                    out.insert(k.clone(), v.clone());
                }
            }
        }
        out
    }

    /// One canonical form: sets and maps sorted, one-element sets as bare atoms.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Atom, Value};
    /// let a = Value::set([Atom::Integer(2), Atom::Integer(1)]).normalized();
    /// assert_eq!(a, Value::set([Atom::Integer(1), Atom::Integer(2)]));
    /// ```
    pub fn normalized(&self) -> Value {
        let cmp = |a: &Atom, b: &Atom| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
        match self {
            Value::Atom(a) => Value::Atom(a.clone()),
            Value::Set(s) if s.len() == 1 => Value::Atom(s[0].clone()),
            Value::Set(s) => {
                let mut s = s.clone();
                s.sort_by(cmp);
                Value::Set(s)
            }
            Value::Map(m) => {
                let mut m = m.clone();
                m.sort_by(|a, b| cmp(&a.0, &b.0));
                Value::Map(m)
            }
        }
    }

    /// The JSON notation.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Value;
    /// assert_eq!(Value::from(true).to_json(), serde_json::json!(true));
    /// ```
    pub fn to_json(&self) -> Json {
        match self {
            Value::Atom(a) => a.to_json(),
            Value::Set(s) => serde_json::json!(["set", s.iter().map(Atom::to_json).collect::<Vec<_>>()]),
            Value::Map(m) => serde_json::json!([
                "map",
                m.iter().map(|(k, v)| Json::Array(vec![k.to_json(), v.to_json()])).collect::<Vec<_>>()
            ]),
        }
    }

    /// Reads the JSON notation.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Value;
    /// let v = Value::from_json(&serde_json::json!(["map", [["k", "v"]]])).unwrap();
    /// assert_eq!(v.to_string_map()["k"], "v");
    /// assert!(Value::from_json(&serde_json::json!({"x": 1})).is_err());
    /// ```
    pub fn from_json(j: &Json) -> Result<Self, Error> {
        if let Json::Array(a) = j {
            if a.len() == 2 {
                match (a[0].as_str(), &a[1]) {
                    (Some("set"), Json::Array(items)) => {
                        return Ok(Value::Set(items.iter().map(Atom::from_json).collect::<Result<_, _>>()?))
                    }
                    (Some("map"), Json::Array(pairs)) => {
                        let mut out = Vec::with_capacity(pairs.len());
                        for p in pairs {
                            match p {
                                Json::Array(kv) if kv.len() == 2 => {
                                    out.push((Atom::from_json(&kv[0])?, Atom::from_json(&kv[1])?))
                                }
                                _ => return Err(Error::Value(format!("{p} is not a map pair"))),
                            }
                        }
                        return Ok(Value::Map(out));
                    }
                    _ => {}
                }
            }
        }
        Atom::from_json(j).map(Value::Atom)
    }
}

impl TryFrom<Json> for Value {
    type Error = Error;
    fn try_from(j: Json) -> Result<Self, Error> {
        Value::from_json(&j)
    }
}

impl From<Value> for Json {
    fn from(v: Value) -> Json {
        v.to_json()
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Atom(Atom::String(s.to_string()))
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Atom(Atom::Integer(i))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Atom(Atom::Boolean(b))
    }
}

impl From<Atom> for Value {
    fn from(a: Atom) -> Self {
        Value::Atom(a)
    }
}

/// Converts a row to its JSON object.
pub(crate) fn row_to_json(row: &Row) -> Json {
    Json::Object(row.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
}

/// Reads a row from its JSON object.
#[cfg_attr(not(feature = "ovsdb"), allow(dead_code))]
pub(crate) fn row_from_json(j: &Json) -> Result<Row, Error> {
    let obj = j.as_object().ok_or_else(|| Error::Value(format!("row {j} is not an object")))?;
    obj.iter().map(|(k, v)| Ok((k.clone(), Value::from_json(v)?))).collect()
}
