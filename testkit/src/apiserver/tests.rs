//! The fake API server over a raw HTTP/1.0 socket (no kube-rs): pagination, replay, 410, bookmarks.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::FakeApiServer;
use crate::k8s::{pod, svc};

async fn send(api: &FakeApiServer, path_query: &str) -> BufReader<TcpStream> {
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    let req = format!("GET {path_query} HTTP/1.0\r\nHost: x\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut r = BufReader::new(s);
    loop {
        let mut line = String::new();
        r.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            return r;
        }
    }
}

async fn get(api: &FakeApiServer, path_query: &str) -> Value {
    let mut r = send(api, path_query).await;
    let mut body = String::new();
    r.read_to_string(&mut body).await.unwrap();
    serde_json::from_str(&body).unwrap()
}

async fn next_event(r: &mut BufReader<TcpStream>) -> Value {
    let mut line = String::new();
    tokio::time::timeout(Duration::from_secs(5), r.read_line(&mut line))
        .await
        .expect("event within 5 s")
        .unwrap();
    serde_json::from_str(&line).unwrap()
}

#[tokio::test]
async fn list_pages_with_selectors() {
    let api = FakeApiServer::start().await;
    for i in 0..5 {
        api.create(&svc("ns", &format!("s{i}")).label("app", if i % 2 == 0 { "a" } else { "b" }));
    }
    let page = get(&api, "/api/v1/services?&limit=2&labelSelector=app%3Da").await;
    assert_eq!(page["kind"], "ServiceList");
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["s0", "s2"]);
    let cont = page["metadata"]["continue"].as_str().unwrap();
    assert_eq!(page["metadata"]["resourceVersion"], "5");
    let page2 = get(
        &api,
        &format!("/api/v1/services?&limit=2&labelSelector=app%3Da&continue={cont}"),
    )
    .await;
    assert_eq!(page2["items"].as_array().unwrap().len(), 1);
    assert_eq!(page2["metadata"]["continue"], "");
    let one = get(&api, "/api/v1/namespaces/ns/services/s3").await;
    assert_eq!(one["metadata"]["resourceVersion"], "4");
    assert_eq!(
        get(&api, "/api/v1/namespaces/ns/services/nope").await["code"],
        404
    );
    api.create(&svc("ns", "later"));
    api.compact();
    let gone = get(&api, &format!("/api/v1/services?&limit=2&continue={cont}")).await;
    assert_eq!(
        (gone["code"].clone(), gone["reason"].clone()),
        (json!(410), json!("Expired"))
    );
}

#[tokio::test]
async fn watch_replays_from_a_version_then_streams_then_expires() {
    let api = FakeApiServer::start().await;
    api.bookmark_every(Some(Duration::from_millis(100)));
    let web = svc("ns", "web").cluster_ip("10.0.0.1");
    let rv1 = api.create(&web);
    api.create(&pod("ns", "p").ip("10.1.0.1"));
    api.update(&web.clone().cluster_ip("10.0.0.2"));
    let mut w = send(
        &api,
        &format!("/api/v1/services?&watch=true&allowWatchBookmarks=true&resourceVersion={rv1}"),
    )
    .await;
    let ev = next_event(&mut w).await;
    assert_eq!(ev["type"], "MODIFIED");
    assert_eq!(ev["object"]["spec"]["clusterIP"], "10.0.0.2");
    assert_eq!(ev["object"]["metadata"]["resourceVersion"], "3");
    api.delete(&web);
    let mut ev = next_event(&mut w).await;
    while ev["type"] == "BOOKMARK" {
        ev = next_event(&mut w).await;
    }
    let got = (
        ev["type"].as_str(),
        ev["object"]["metadata"]["resourceVersion"].as_str(),
    );
    assert_eq!(got, (Some("DELETED"), Some("4")));
    let ev = next_event(&mut w).await;
    assert_eq!(ev["type"], "BOOKMARK");
    assert_eq!(ev["object"]["kind"], "Service");
    assert_eq!(ev["object"]["metadata"]["resourceVersion"], "4");

    api.compact();
    let mut old = send(
        &api,
        &format!("/api/v1/services?&watch=true&resourceVersion={rv1}"),
    )
    .await;
    let ev = next_event(&mut old).await;
    assert_eq!(
        (ev["type"].as_str(), ev["object"]["code"].as_u64()),
        (Some("ERROR"), Some(410))
    );
}

#[tokio::test]
async fn faults_down_unavailable_and_closed_watches() {
    let api = FakeApiServer::start().await;
    api.close_watches_every(Some(Duration::from_millis(200)));
    let mut w = send(&api, "/api/v1/pods?&watch=true&resourceVersion=0").await;
    let mut rest = String::new();
    tokio::time::timeout(Duration::from_secs(5), w.read_to_string(&mut rest))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, "", "watch ended without events");
    api.set_unavailable(true);
    assert_eq!(get(&api, "/api/v1/pods").await["code"], 503);
    api.set_unavailable(false);
    api.set_down(true);
    let mut s = TcpStream::connect(api.addr()).await.unwrap();
    s.write_all(b"GET /api/v1/pods HTTP/1.0\r\n\r\n").await.ok();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.ok();
    assert!(buf.is_empty(), "down server answered");
    assert_eq!(api.requests().len(), 2);
}
