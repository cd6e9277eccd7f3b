//! Orders within one process: the single-instance mode has no other instance to tell.

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::{BACKLOG, Signal, SignalError, Signals};

/// Orders delivered to this process's listeners.
pub struct MemorySignals {
    local: broadcast::Sender<Signal>,
}

impl Default for MemorySignals {
    fn default() -> Self {
        Self { local: broadcast::channel(BACKLOG).0 }
    }
}

#[async_trait]
impl Signals for MemorySignals {
    async fn send(&self, signal: &Signal) -> Result<(), SignalError> {
        // No listener is fine: nothing to close.
        let _ = self.local.send(signal.clone());
        Ok(())
    }

    fn receive(&self) -> broadcast::Receiver<Signal> {
        self.local.subscribe()
    }
}
