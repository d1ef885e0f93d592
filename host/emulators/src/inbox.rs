//! An HTTP endpoint that keeps every POST it receives (headers and body):
//! a notification webhook's receiver in tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;

#[derive(Debug, Clone)]
pub struct Delivery {
    pub headers: HeaderMap,
    pub body: Bytes,
}

#[derive(Clone)]
pub struct Inbox {
    addr: SocketAddr,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl Inbox {
    pub fn start() -> std::io::Result<Self> {
        let deliveries = Arc::new(Mutex::new(Vec::new()));
        let router = Router::new().route("/", post(keep)).with_state(Arc::clone(&deliveries));
        let addr = super::serve(router)?;
        Ok(Self { addr, deliveries })
    }

    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

async fn keep(State(deliveries): State<Arc<Mutex<Vec<Delivery>>>>, headers: HeaderMap, body: Bytes) -> &'static str {
    if let Ok(mut deliveries) = deliveries.lock() {
        deliveries.push(Delivery { headers, body });
    }
    "ok"
}
