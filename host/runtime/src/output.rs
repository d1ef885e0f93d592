//! What a plugin writes to stdout and stderr: evidence when a call fails (a
//! Rust panic's message, a Python traceback), kept in a bounded buffer per
//! session — the last [`GUEST_OUTPUT_BYTES`] — that never refuses a write,
//! so a chatty plugin cannot trap itself by printing.

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// The most a session keeps of its plugin's output (the newest bytes).
pub const GUEST_OUTPUT_BYTES: usize = 64 << 10;

/// The stdout and stderr of one session, interleaved as written.
#[derive(Clone, Default)]
pub struct GuestOutput {
    tail: Arc<Mutex<VecDeque<u8>>>,
}

impl GuestOutput {
    fn append(&self, bytes: &[u8]) {
        let Ok(mut tail) = self.tail.lock() else { return };
        let keep = bytes.len().min(GUEST_OUTPUT_BYTES);
        let overflow = (tail.len() + keep).saturating_sub(GUEST_OUTPUT_BYTES);
        let dropped = overflow.min(tail.len());
        tail.drain(..dropped);
        tail.extend(&bytes[bytes.len() - keep..]);
    }

    /// What was written since the last take, as text; empties the buffer.
    pub fn take(&self) -> String {
        let Ok(mut tail) = self.tail.lock() else {
            return String::new();
        };
        let bytes: Vec<u8> = tail.drain(..).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(GUEST_OUTPUT_BYTES)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_bytes_and_never_refuses() {
        let output = GuestOutput::default();
        output.append(b"first line\n");
        assert_eq!(output.take(), "first line\n");
        assert_eq!(output.take(), "", "taken");
        output.append(&vec![b'a'; GUEST_OUTPUT_BYTES]);
        output.append(b"the end");
        let kept = output.take();
        assert_eq!(kept.len(), GUEST_OUTPUT_BYTES);
        assert!(kept.ends_with("aaathe end"));
        output.append(&vec![b'b'; 3 * GUEST_OUTPUT_BYTES]);
        assert_eq!(output.take().len(), GUEST_OUTPUT_BYTES);
    }
}
