//! What a client can make a connection cost: a head trickled forever, a connection left
//! idle, thousands of connections at once (THREAT-MODEL.md).

use std::time::{Duration, Instant};

use roster_server::app::AppOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

fn opts() -> AppOptions {
    AppOptions {
        header_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        max_connections: 4,
        ..AppOptions::default()
    }
}

/// How long until the server closes `s` (reads until EOF or an error), at most `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout_at((started + limit).into(), s.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0)) | Ok(Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => {}
        }
    }
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

#[tokio::test]
async fn a_trickled_head_and_an_idle_connection_are_closed() {
    let app = TestApp::spawn_with(opts(), None).await;
    // A head that never ends (the attack: 200 of these sat open for over a minute).
    let mut slow = TcpStream::connect(addr(&app)).await.unwrap();
    slow.write_all(b"GET /scim/v2/Me HTT").await.unwrap();
    let t = closed_within(&mut slow, Duration::from_secs(5)).await;
    assert!(
        t.is_some_and(|t| t < Duration::from_millis(2500)),
        "slow head closed after {t:?}"
    );
    // A connection that sends nothing at all.
    let mut idle = TcpStream::connect(addr(&app)).await.unwrap();
    let t = closed_within(&mut idle, Duration::from_secs(6)).await;
    assert!(
        t.is_some_and(|t| t >= Duration::from_millis(1500) && t < Duration::from_millis(4000)),
        "idle connection closed after {t:?}"
    );
    // A keep-alive connection after a complete request is idle too, and gets the same.
    let mut kept = TcpStream::connect(addr(&app)).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let t = closed_within(&mut kept, Duration::from_secs(6)).await;
    assert!(
        t.is_some_and(|t| t < Duration::from_millis(4000)),
        "kept-alive idle closed after {t:?}"
    );
}

#[tokio::test]
async fn open_connections_are_capped() {
    let app = TestApp::spawn_with(opts(), None).await;
    // Fill every slot with kept-alive connections (each served once, then left open).
    let mut holders = Vec::new();
    for _ in 0..4 {
        let mut s = TcpStream::connect(addr(&app)).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let _ = s.read(&mut buf).await.unwrap();
        holders.push(s);
    }
    // A fifth is accepted by the kernel but not served while the four are open.
    let mut waiting = TcpStream::connect(addr(&app)).await.unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let early = tokio::time::timeout(Duration::from_millis(500), waiting.read(&mut buf)).await;
    assert!(early.is_err(), "served while every slot was taken");
    drop(holders);
    let n = tokio::time::timeout(Duration::from_secs(3), waiting.read(&mut buf))
        .await
        .expect("served once the slots were free")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}
