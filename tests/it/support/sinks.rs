//! Local receivers for notifications, started by the tests: a webhook
//! endpoint (axum) that records every request and answers with a scripted
//! status, and a minimal SMTP server that records every message.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request the webhook receiver got.
#[derive(Clone, Debug)]
pub struct Hook {
    pub headers: HeaderMap,
    pub body: String,
}

#[derive(Clone, Default)]
pub struct WebhookSink {
    pub received: Arc<Mutex<Vec<Hook>>>,
    /// Statuses to answer with, in order; 200 once they run out.
    pub script: Arc<Mutex<VecDeque<u16>>>,
}

impl WebhookSink {
    /// Starts the receiver; returns it and its URL.
    pub async fn start() -> (Self, String) {
        let sink = Self::default();
        let app = Router::new().route("/hook", post(receive)).with_state(sink.clone());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (sink, format!("http://{addr}/hook"))
    }

    pub fn fail_next(&self, statuses: &[u16]) {
        self.script.lock().unwrap().extend(statuses);
    }

    pub fn received(&self) -> Vec<Hook> {
        self.received.lock().unwrap().clone()
    }
}

async fn receive(State(sink): State<WebhookSink>, headers: HeaderMap, body: Bytes) -> StatusCode {
    sink.received.lock().unwrap().push(Hook { headers, body: String::from_utf8_lossy(&body).into_owned() });
    let status = sink.script.lock().unwrap().pop_front().unwrap_or(200);
    StatusCode::from_u16(status).unwrap()
}

/// One message the SMTP sink accepted.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

#[derive(Clone, Default)]
pub struct SmtpSink {
    pub mails: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpSink {
    /// Starts a plain SMTP server on loopback; returns it and its address.
    pub async fn start() -> (Self, SocketAddr) {
        let sink = Self::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = sink.clone();
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else { return };
                let sink = accepted.clone();
                tokio::spawn(async move { sink.session(socket).await });
            }
        });
        (sink, addr)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    /// Speaks just enough SMTP (RFC 5321) for a client that sends mail.
    async fn session(&self, socket: tokio::net::TcpStream) {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        let _ = write.write_all(b"220 sink ESMTP\r\n").await;
        let (mut from, mut to, mut data) = (String::new(), Vec::new(), String::new());
        let mut in_data = false;
        while let Ok(Some(line)) = lines.next_line().await {
            if in_data {
                if line == "." {
                    in_data = false;
                    self.mails.lock().unwrap().push(Mail {
                        from: from.clone(),
                        to: std::mem::take(&mut to),
                        data: std::mem::take(&mut data),
                    });
                    let _ = write.write_all(b"250 OK queued\r\n").await;
                } else {
                    data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    data.push('\n');
                }
                continue;
            }
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250-sink\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                from = line[10..].trim().trim_matches(['<', '>']).to_owned();
                b"250 OK\r\n"
            } else if upper.starts_with("RCPT TO:") {
                to.push(line[8..].trim().trim_matches(['<', '>']).to_owned());
                b"250 OK\r\n"
            } else if upper == "DATA" {
                in_data = true;
                b"354 go ahead\r\n"
            } else if upper == "QUIT" {
                let _ = write.write_all(b"221 bye\r\n").await;
                return;
            } else {
                b"250 OK\r\n"
            };
            let _ = write.write_all(reply).await;
        }
    }
}
