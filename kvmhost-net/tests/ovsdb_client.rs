//! The RFC 7047 client against a real ovsdb-server (scripts/services/ovs.sh).

use kvmhost_net::ovsdb::{Atom, Client, Condition, Error, Mutation, Mutator, Operation, Row, Value};

const DB: &str = "Open_vSwitch";

fn client() -> Option<Client> {
    match std::env::var("KVMHOST_OVSDB_SOCK") {
        Ok(sock) => Some(Client::connect(sock).expect("connect to the test ovsdb-server")),
        Err(_) => {
            println!("SKIP: ovs not started (run ./scripts/test.sh, or eval \"$(scripts/services/ovs.sh start)\")");
            None
        }
    }
}

#[test]
fn list_dbs_schema_and_echo() {
    let Some(mut c) = client() else { return };
    let dbs = c.list_dbs().unwrap();
    assert!(dbs.contains(&DB.to_string()), "{dbs:?}");
    let schema = c.get_schema(DB).unwrap();
    assert_eq!(schema.name, DB);
    assert!(schema.tables["Open_vSwitch"].is_root);
    assert!(!schema.tables["Port"].is_root);
    assert!(!schema.tables["Bridge"].columns["name"].mutable);
    assert!(schema.tables["Interface"].columns["ofport"].mutable);
    let echoed = c.echo(serde_json::json!(["kvmhost", 7])).unwrap();
    assert_eq!(echoed, serde_json::json!(["kvmhost", 7]));
    assert_eq!(c.stats().requests, 3);
}

#[test]
fn unknown_database_is_a_typed_error() {
    let Some(mut c) = client() else { return };
    match c.get_schema("No_Such_DB") {
        Err(Error::Rpc { method, error }) => {
            assert_eq!(method, "get_schema");
            assert!(error.to_string().contains("unknown database"), "{error}");
        }
        other => panic!("expected an RPC error, got {other:?}"),
    }
    // The connection is still usable afterwards.
    assert!(c.list_dbs().unwrap().contains(&DB.to_string()));
}

fn row(pairs: &[(&str, Value)]) -> Row {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

#[test]
fn transact_errors_carry_the_operation_index() {
    let Some(mut c) = client() else { return };
    // Operation 1 violates the Port.tag constraint (0..4095): nothing of the transaction stays.
    let ops = [
        Operation::comment("kvmhost test: typed errors"),
        Operation::insert("Port", row(&[("name", Value::from("kvmtest-bad")), ("tag", Value::from(5000i64))]), None),
    ];
    match c.transact(DB, &ops) {
        Err(Error::Operation { index, op, error, .. }) => {
            assert_eq!((index, op.as_str()), (1, "insert"));
            assert_eq!(error, "constraint violation");
        }
        other => panic!("expected an operation error, got {other:?}"),
    }
    // A referential integrity error is found at commit: index == number of operations.
    let ops = [Operation::insert(
        "Bridge",
        row(&[
            ("name", Value::from("kvmtest-dangling")),
            (
                "ports",
                Value::set([Atom::Uuid(
                    kvmhost_net::ovsdb::Uuid::parse("00000000-0000-0000-0000-000000000001").unwrap(),
                )]),
            ),
        ]),
        None,
    )];
    match c.transact(DB, &ops) {
        Err(Error::Operation { index, op, error, .. }) => {
            assert_eq!((index, op.as_str()), (1, "commit"));
            assert_eq!(error, "referential integrity violation");
        }
        other => panic!("expected a commit error, got {other:?}"),
    }
    let r = c.transact(DB, &[Operation::select("Port", vec![Condition::eq("name", "kvmtest-bad")], None)]).unwrap();
    assert!(r[0].rows().is_empty());
}

#[test]
fn insert_mutate_select_delete_with_named_uuids() {
    let Some(mut c) = client() else { return };
    let name = "kvmtest-c0";
    let ops = [
        Operation::insert(
            "Interface",
            row(&[("name", Value::from(name)), ("type", Value::from("internal"))]),
            Some("i"),
        ),
        Operation::insert(
            "Port",
            row(&[("name", Value::from(name)), ("interfaces", Value::set([Atom::named("i")]))]),
            Some("p"),
        ),
        Operation::insert(
            "Bridge",
            row(&[
                ("name", Value::from(name)),
                ("ports", Value::set([Atom::named("p")])),
                ("datapath_type", Value::from("netdev")),
                ("external_ids", Value::string_map([("owner", "kvmhost-test")])),
            ]),
            Some("b"),
        ),
        Operation::mutate(
            "Open_vSwitch",
            vec![],
            vec![Mutation::new("bridges", Mutator::Insert, Value::set([Atom::named("b")]))],
        ),
    ];
    let r = c.transact(DB, &ops).unwrap();
    let bridge_uuid = r[2].uuid().unwrap().clone();
    assert_eq!(r[3].count(), Some(1));
    let r = c
        .transact(
            DB,
            &[
                Operation::select(
                    "Bridge",
                    vec![Condition::uuid(&bridge_uuid)],
                    Some(&["name", "external_ids", "datapath_type"]),
                ),
                Operation::update(
                    "Port",
                    vec![Condition::eq("name", name)],
                    row(&[("trunks", Value::set([Atom::Integer(300), Atom::Integer(100)]))]),
                ),
                Operation::select("Port", vec![Condition::eq("name", name)], Some(&["trunks"])),
            ],
        )
        .unwrap();
    assert_eq!(r[0].rows()[0]["name"].as_str(), Some(name));
    assert_eq!(r[0].rows()[0]["external_ids"].to_string_map()["owner"], "kvmhost-test");
    assert_eq!(r[1].count(), Some(1));
    assert_eq!(r[2].rows()[0]["trunks"].normalized(), Value::set([Atom::Integer(100), Atom::Integer(300)]));
    // Removing the reference from the root table garbage-collects bridge, port and interface.
    let r = c
        .transact(
            DB,
            &[Operation::mutate(
                "Open_vSwitch",
                vec![],
                vec![Mutation::new("bridges", Mutator::Delete, Value::set([Atom::Uuid(bridge_uuid.clone())]))],
            )],
        )
        .unwrap();
    assert_eq!(r[0].count(), Some(1));
    // Garbage collection happens at commit: the next transaction no longer sees the rows.
    let r =
        c.transact(DB, &[Operation::select("Interface", vec![Condition::eq("name", name)], Some(&["name"]))]).unwrap();
    assert!(r[0].rows().is_empty(), "the interface was garbage-collected");
    assert!(c.stats().write_transactions >= 3);
}

/// Server behaviour the real ovsdb-server shows only on some connections (inactivity probes,
/// arbitrary TCP-like fragmentation, notifications between replies), played by a scripted
/// peer on a unix socket: the client must answer the server's `echo` with the same id and
/// params, skip notifications, and reassemble a reply split at any byte.
#[test]
fn echo_requests_notifications_and_split_replies() {
    use std::io::{Read, Write};
    let dir = std::env::temp_dir().join(format!("kvmhost-ovs-client-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("peer.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let peer = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        let req: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
        assert_eq!(req["method"], "list_dbs");
        // An echo request and a notification before the reply; the reply in three pieces.
        s.write_all(
            br#"{"method":"echo","params":["probe"],"id":"echo-7"} {"method":"update","params":[null,{}],"id":null}"#,
        )
        .unwrap();
        let n = s.read(&mut buf).unwrap();
        let echo: serde_json::Value = serde_json::from_slice(&buf[..n]).unwrap();
        let reply = format!(r#"{{"id":{},"result":["Open_vSwitch","_Server"],"error":null}}"#, req["id"]);
        let (a, b) = reply.split_at(5);
        let (b, c) = b.split_at(17);
        for piece in [a, b, c] {
            s.write_all(piece.as_bytes()).unwrap();
            s.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        echo
    });
    let mut c = Client::connect(&path).unwrap();
    let dbs = c.list_dbs().unwrap();
    assert_eq!(dbs, ["Open_vSwitch", "_Server"]);
    let echo = peer.join().unwrap();
    assert_eq!(echo, serde_json::json!({"id": "echo-7", "result": ["probe"], "error": null}));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_peer_closing_or_stalling_is_a_typed_error() {
    let dir = std::env::temp_dir().join(format!("kvmhost-ovs-client2-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("peer.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let peer = std::thread::spawn(move || {
        let (s, _) = listener.accept().unwrap(); // stalls: never answers
        let (s2, _) = listener.accept().unwrap(); // closes at once
        drop(s2);
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(s);
    });
    let mut stalled = Client::connect(&path).unwrap();
    stalled.set_timeout(std::time::Duration::from_millis(100));
    assert!(matches!(stalled.list_dbs(), Err(Error::Timeout { method, .. }) if method == "list_dbs"));
    let mut closed = Client::connect(&path).unwrap();
    assert!(matches!(closed.list_dbs(), Err(Error::Closed | Error::Io(_))));
    peer.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
