//! Typed `transact` operations (RFC 7047 §5.2) and their results.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use super::value::{row_from_json, row_to_json, Row, Uuid, Value};
use super::Error;

/// A comparison function of a `where` condition (RFC 7047 §5.1 `<function>`).
///
/// ```
/// use kvmhost_net::ovsdb::Function;
/// assert_eq!(Function::Includes.as_str(), "includes");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Function {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `>=`
    Ge,
    /// `>`
    Gt,
    /// `includes`
    Includes,
    /// `excludes`
    Excludes,
}

impl Function {
    /// The wire spelling.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Function;
    /// assert_eq!(Function::Ge.as_str(), ">=");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Function::Lt => "<",
            Function::Le => "<=",
            Function::Eq => "==",
            Function::Ne => "!=",
            Function::Ge => ">=",
            Function::Gt => ">",
            Function::Includes => "includes",
            Function::Excludes => "excludes",
        }
    }
}

/// One `where` clause: `[column, function, value]`.
///
/// ```
/// use kvmhost_net::ovsdb::Condition;
/// let c = Condition::eq("name", "br0");
/// assert_eq!(c.to_json(), serde_json::json!(["name", "==", "br0"]));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The column.
    pub column: String,
    /// The comparison.
    pub function: Function,
    /// The value compared with.
    pub value: Value,
}

impl Condition {
    /// `[column, "==", value]`.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Condition, Function};
    /// assert_eq!(Condition::eq("tag", 200i64).function, Function::Eq);
    /// ```
    pub fn eq(column: &str, value: impl Into<Value>) -> Self {
        Condition { column: column.to_string(), function: Function::Eq, value: value.into() }
    }

    /// `["_uuid", "==", ["uuid", …]]`: the row with this UUID.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Condition, Uuid};
    /// let u = Uuid::parse("6e41a0dc-b7f0-4669-84c3-6aa6deaf3ced").unwrap();
    /// assert_eq!(Condition::uuid(&u).column, "_uuid");
    /// ```
    pub fn uuid(uuid: &Uuid) -> Self {
        Condition::eq("_uuid", super::Atom::Uuid(uuid.clone()))
    }

    /// The JSON notation.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Condition, Function, Value};
    /// let c = Condition { column: "cur_cfg".into(), function: Function::Ge, value: Value::from(3i64) };
    /// assert_eq!(c.to_json(), serde_json::json!(["cur_cfg", ">=", 3]));
    /// ```
    pub fn to_json(&self) -> Json {
        json!([self.column, self.function.as_str(), self.value.to_json()])
    }
}

/// A mutator (RFC 7047 §5.1 `<mutator>`).
///
/// ```
/// use kvmhost_net::ovsdb::Mutator;
/// assert_eq!(Mutator::Insert.as_str(), "insert");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mutator {
    /// `+=`
    Add,
    /// `-=`
    Sub,
    /// `*=`
    Mul,
    /// `/=`
    Div,
    /// `%=`
    Rem,
    /// `insert` (into a set or map)
    Insert,
    /// `delete` (from a set or map)
    Delete,
}

impl Mutator {
    /// The wire spelling.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Mutator;
    /// assert_eq!(Mutator::Add.as_str(), "+=");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Mutator::Add => "+=",
            Mutator::Sub => "-=",
            Mutator::Mul => "*=",
            Mutator::Div => "/=",
            Mutator::Rem => "%=",
            Mutator::Insert => "insert",
            Mutator::Delete => "delete",
        }
    }
}

/// One mutation: `[column, mutator, value]`.
///
/// ```
/// use kvmhost_net::ovsdb::{Atom, Mutation, Mutator, Value};
/// let m = Mutation::new("ports", Mutator::Insert, Value::set([Atom::named("p")]));
/// assert_eq!(m.to_json(), serde_json::json!(["ports", "insert", ["set", [["named-uuid", "p"]]]]));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mutation {
    /// The column.
    pub column: String,
    /// The mutator.
    pub mutator: Mutator,
    /// Its argument.
    pub value: Value,
}

impl Mutation {
    /// A mutation.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Mutation, Mutator};
    /// assert_eq!(Mutation::new("next_cfg", Mutator::Add, 1i64).column, "next_cfg");
    /// ```
    pub fn new(column: &str, mutator: Mutator, value: impl Into<Value>) -> Self {
        Mutation { column: column.to_string(), mutator, value: value.into() }
    }

    /// The JSON notation.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Mutation, Mutator};
    /// assert_eq!(Mutation::new("n", Mutator::Add, 1i64).to_json(), serde_json::json!(["n", "+=", 1]));
    /// ```
    pub fn to_json(&self) -> Json {
        json!([self.column, self.mutator.as_str(), self.value.to_json()])
    }
}

/// The `until` of a `wait` operation.
///
/// ```
/// use kvmhost_net::ovsdb::WaitUntil;
/// assert_ne!(WaitUntil::Equal, WaitUntil::NotEqual);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WaitUntil {
    /// `==`: wait until the selected rows equal `rows`.
    Equal,
    /// `!=`: wait until they differ.
    NotEqual,
}

/// One operation of a `transact` request (RFC 7047 §5.2).
///
/// ```
/// use kvmhost_net::ovsdb::{Condition, Operation};
/// let op = Operation::select("Bridge", vec![Condition::eq("name", "br0")], Some(&["name", "ports"]));
/// assert_eq!(op.to_json()["op"], "select");
/// assert_eq!(op.name(), "select");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Operation {
    /// Insert a row; `uuid_name` names it for later operations (`["named-uuid", …]`), `uuid`
    /// asks for a given UUID (OVS ≥ 2.13 extension; used to restore deleted rows exactly).
    Insert {
        /// Table.
        table: String,
        /// Column values.
        row: Row,
        /// Name for `named-uuid` references within the transaction.
        uuid_name: Option<String>,
        /// Requested UUID of the new row.
        uuid: Option<Uuid>,
    },
    /// Select rows (all columns when `columns` is `None`).
    Select {
        /// Table.
        table: String,
        /// Conditions (all must hold; empty: every row).
        conditions: Vec<Condition>,
        /// Columns to return.
        columns: Option<Vec<String>>,
    },
    /// Update the given columns of matching rows.
    Update {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// New column values.
        row: Row,
    },
    /// Mutate columns of matching rows.
    Mutate {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// Mutations.
        mutations: Vec<Mutation>,
    },
    /// Delete matching rows.
    Delete {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
    },
    /// Wait until the selected columns of matching rows are (or are not) `rows`.
    Wait {
        /// Table.
        table: String,
        /// Conditions.
        conditions: Vec<Condition>,
        /// Columns compared.
        columns: Vec<String>,
        /// `==` or `!=`.
        until: WaitUntil,
        /// Expected rows.
        rows: Vec<Row>,
        /// Milliseconds to wait (`None`: forever; `Some(0)`: check once).
        timeout_ms: Option<u64>,
    },
    /// Ask for a durable commit.
    Commit {
        /// Whether the commit must reach disk.
        durable: bool,
    },
    /// Abort the transaction (always fails with `aborted`).
    Abort,
    /// A comment recorded in the database log.
    Comment {
        /// The text.
        comment: String,
    },
}

impl Operation {
    /// An `insert` with a `uuid-name`.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Operation, Row};
    /// let op = Operation::insert("Interface", Row::new(), Some("iface"));
    /// assert_eq!(op.to_json()["uuid-name"], "iface");
    /// ```
    pub fn insert(table: &str, row: Row, uuid_name: Option<&str>) -> Self {
        Operation::Insert { table: table.into(), row, uuid_name: uuid_name.map(Into::into), uuid: None }
    }

    /// A `select`.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Operation;
    /// assert_eq!(Operation::select("Port", vec![], None).to_json()["where"], serde_json::json!([]));
    /// ```
    pub fn select(table: &str, conditions: Vec<Condition>, columns: Option<&[&str]>) -> Self {
        Operation::Select {
            table: table.into(),
            conditions,
            columns: columns.map(|c| c.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// An `update`.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Condition, Operation, Row, Value};
    /// let row = Row::from([("tag".to_string(), Value::from(200i64))]);
    /// assert_eq!(Operation::update("Port", vec![Condition::eq("name", "p")], row).name(), "update");
    /// ```
    pub fn update(table: &str, conditions: Vec<Condition>, row: Row) -> Self {
        Operation::Update { table: table.into(), conditions, row }
    }

    /// A `mutate`.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Mutation, Mutator, Operation};
    /// let op = Operation::mutate("Open_vSwitch", vec![], vec![Mutation::new("next_cfg", Mutator::Add, 1i64)]);
    /// assert_eq!(op.to_json()["mutations"][0][1], "+=");
    /// ```
    pub fn mutate(table: &str, conditions: Vec<Condition>, mutations: Vec<Mutation>) -> Self {
        Operation::Mutate { table: table.into(), conditions, mutations }
    }

    /// A `delete`.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{Condition, Operation};
    /// assert_eq!(Operation::delete("Port", vec![Condition::eq("name", "x")]).name(), "delete");
    /// ```
    pub fn delete(table: &str, conditions: Vec<Condition>) -> Self {
        Operation::Delete { table: table.into(), conditions }
    }

    /// A `comment`.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Operation;
    /// assert_eq!(Operation::comment("kvmhost").to_json()["comment"], "kvmhost");
    /// ```
    pub fn comment(text: &str) -> Self {
        Operation::Comment { comment: text.into() }
    }

    /// The `op` name.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Operation;
    /// assert_eq!(Operation::Abort.name(), "abort");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Operation::Insert { .. } => "insert",
            Operation::Select { .. } => "select",
            Operation::Update { .. } => "update",
            Operation::Mutate { .. } => "mutate",
            Operation::Delete { .. } => "delete",
            Operation::Wait { .. } => "wait",
            Operation::Commit { .. } => "commit",
            Operation::Abort => "abort",
            Operation::Comment { .. } => "comment",
        }
    }

    /// Whether the operation writes (insert, update, mutate, delete).
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Operation;
    /// assert!(!Operation::select("Bridge", vec![], None).writes());
    /// ```
    pub fn writes(&self) -> bool {
        matches!(
            self,
            Operation::Insert { .. } | Operation::Update { .. } | Operation::Mutate { .. } | Operation::Delete { .. }
        )
    }

    /// The JSON object sent in `transact`'s params.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::Operation;
    /// assert_eq!(Operation::Commit { durable: false }.to_json(), serde_json::json!({"op": "commit", "durable": false}));
    /// ```
    pub fn to_json(&self) -> Json {
        let conds = |c: &[Condition]| Json::Array(c.iter().map(Condition::to_json).collect());
        match self {
            Operation::Insert { table, row, uuid_name, uuid } => {
                let mut o = json!({"op": "insert", "table": table, "row": row_to_json(row)});
                if let Some(n) = uuid_name {
                    o["uuid-name"] = json!(n);
                }
                if let Some(u) = uuid {
                    o["uuid"] = json!(u.as_str());
                }
                o
            }
            Operation::Select { table, conditions, columns } => {
                let mut o = json!({"op": "select", "table": table, "where": conds(conditions)});
                if let Some(c) = columns {
                    o["columns"] = json!(c);
                }
                o
            }
            Operation::Update { table, conditions, row } => {
                json!({"op": "update", "table": table, "where": conds(conditions), "row": row_to_json(row)})
            }
            Operation::Mutate { table, conditions, mutations } => json!({
                "op": "mutate", "table": table, "where": conds(conditions),
                "mutations": mutations.iter().map(Mutation::to_json).collect::<Vec<_>>()
            }),
            Operation::Delete { table, conditions } => {
                json!({"op": "delete", "table": table, "where": conds(conditions)})
            }
            Operation::Wait { table, conditions, columns, until, rows, timeout_ms } => {
                let mut o = json!({
                    "op": "wait", "table": table, "where": conds(conditions), "columns": columns,
                    "until": if *until == WaitUntil::Equal { "==" } else { "!=" },
                    "rows": rows.iter().map(row_to_json).collect::<Vec<_>>()
                });
                if let Some(t) = timeout_ms {
                    o["timeout"] = json!(t);
                }
                o
            }
            Operation::Commit { durable } => json!({"op": "commit", "durable": durable}),
            Operation::Abort => json!({"op": "abort"}),
            Operation::Comment { comment } => json!({"op": "comment", "comment": comment}),
        }
    }
}

/// The result of one successful operation.
///
/// ```
/// use kvmhost_net::ovsdb::OpResult;
/// assert_eq!(OpResult::Count(2).count(), Some(2));
/// assert!(OpResult::Empty.rows().is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum OpResult {
    /// `insert`: the new row's UUID.
    Inserted(Uuid),
    /// `select`: the rows.
    Rows(Vec<Row>),
    /// `update`, `mutate`, `delete`: how many rows matched.
    Count(u64),
    /// `wait`, `commit`, `comment`: nothing.
    Empty,
}

impl OpResult {
    /// The rows of a `select` (empty otherwise).
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::{OpResult, Row};
    /// assert_eq!(OpResult::Rows(vec![Row::new()]).rows().len(), 1);
    /// ```
    pub fn rows(&self) -> &[Row] {
        match self {
            OpResult::Rows(r) => r,
            _ => &[],
        }
    }

    /// The count of an `update`/`mutate`/`delete`.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::OpResult;
    /// assert_eq!(OpResult::Empty.count(), None);
    /// ```
    pub fn count(&self) -> Option<u64> {
        match self {
            OpResult::Count(c) => Some(*c),
            _ => None,
        }
    }

    /// The UUID an `insert` gave its row.
    ///
    /// ```
    /// # use kvmhost_net::ovsdb::OpResult;
    /// assert!(OpResult::Empty.uuid().is_none());
    /// ```
    pub fn uuid(&self) -> Option<&Uuid> {
        match self {
            OpResult::Inserted(u) => Some(u),
            _ => None,
        }
    }
}

/// Decodes a `transact` result array; the first error object becomes [`Error::Operation`] with
/// its index (`index == ops.len()` for an error found at commit, e.g. a constraint violation).
#[cfg_attr(not(feature = "ovsdb"), allow(dead_code))]
pub(crate) fn decode_results(ops: &[Operation], result: &Json) -> Result<Vec<OpResult>, Error> {
    let items = result.as_array().ok_or_else(|| Error::Protocol {
        method: "transact".into(),
        detail: format!("result {result} is not an array"),
    })?;
    for (index, item) in items.iter().enumerate() {
        if let Some(err) = item.get("error") {
            return Err(Error::Operation {
                index,
                op: ops.get(index).map_or("commit", Operation::name).to_string(),
                error: err.as_str().unwrap_or("unknown").to_string(),
                details: item.get("details").and_then(Json::as_str).map(str::to_string),
            });
        }
    }
    let mut out = Vec::with_capacity(ops.len());
    for (index, op) in ops.iter().enumerate() {
        let item = items.get(index).ok_or_else(|| Error::Protocol {
            method: "transact".into(),
            detail: format!("{} results for {} operations", items.len(), ops.len()),
        })?;
        let bad =
            |what: &str| Error::Protocol { method: "transact".into(), detail: format!("operation {index}: {what}") };
        out.push(match op {
            Operation::Insert { .. } => {
                let u = item.get("uuid").ok_or_else(|| bad("insert result without uuid"))?;
                match Value::from_json(u)? {
                    Value::Atom(super::Atom::Uuid(u)) => OpResult::Inserted(u),
                    _ => return Err(bad("insert result uuid is not a UUID")),
                }
            }
            Operation::Select { .. } => {
                let rows =
                    item.get("rows").and_then(Json::as_array).ok_or_else(|| bad("select result without rows"))?;
                OpResult::Rows(rows.iter().map(row_from_json).collect::<Result<_, _>>()?)
            }
            Operation::Update { .. } | Operation::Mutate { .. } | Operation::Delete { .. } => {
                OpResult::Count(item.get("count").and_then(Json::as_u64).ok_or_else(|| bad("result without count"))?)
            }
            _ => OpResult::Empty,
        });
    }
    Ok(out)
}
