//! A small HTTP server on loopback for the sandbox tests: JSON, large
//! bodies, redirects, slow answers and a header echo.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Query;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// A running server; it stops when the test process ends.
pub struct TestServer {
    pub addr: SocketAddr,
}

impl TestServer {
    pub fn start() -> Self {
        Self {
            addr: hrsync_emulators::serve(router()).expect("test server"),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn router() -> Router {
    Router::new()
        .route(
            "/ok",
            get(|| async { ([(header::CONTENT_TYPE, "application/json")], r#"{"ok":true}"#) }),
        )
        .route("/big", get(|| async { vec![b'x'; 20 << 20] }))
        .route("/big-chunked", get(big_chunked))
        .route("/redirect", get(redirect).post(redirect))
        .route("/slow", get(slow))
        .route("/headers", get(echo_headers))
}

/// 20 MiB with no Content-Length, so only reading can tell the size.
async fn big_chunked() -> Response {
    let chunks = (0..20).map(|_| Ok::<_, std::io::Error>(vec![b'y'; 1 << 20]));
    Body::from_stream(futures_util::stream::iter(chunks)).into_response()
}

async fn redirect(Query(query): Query<HashMap<String, String>>) -> Response {
    let to = query.get("to").cloned().unwrap_or_default();
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_secs(10)).await;
    "late"
}

async fn echo_headers(headers: HeaderMap) -> String {
    let mut names: Vec<&str> = headers.keys().map(|k| k.as_str()).collect();
    names.sort();
    names.join(",")
}
