//! [`RuntimeHandle`]: how other threads reach a running loop.

use std::fmt;
use std::sync::Arc;
use std::sync::mpsc::Sender;

use mio::Waker;

use crate::RuntimeStats;
use crate::stats::SharedStats;

/// What a handle puts on the loop's channel.
pub(crate) enum Control<C> {
    Command(C),
    Shutdown,
}

/// A cheap, cloneable, `Send` handle to a [`Runtime`](crate::Runtime): commands for the stack
/// go through a channel and a [`mio::Waker`] wakes the loop, which hands them to
/// [`Stack::handle_command`](crate::Stack::handle_command) in the order they were sent.
pub struct RuntimeHandle<C> {
    pub(crate) tx: Sender<Control<C>>,
    pub(crate) waker: Arc<Waker>,
    pub(crate) stats: Arc<SharedStats>,
}

impl<C> Clone for RuntimeHandle<C> {
    fn clone(&self) -> Self {
        RuntimeHandle {
            tx: self.tx.clone(),
            waker: Arc::clone(&self.waker),
            stats: Arc::clone(&self.stats),
        }
    }
}

impl<C> fmt::Debug for RuntimeHandle<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RuntimeHandle").finish_non_exhaustive()
    }
}

impl<C> RuntimeHandle<C> {
    /// Sends `command` to the stack and wakes the loop.
    ///
    /// # Errors
    /// [`HandleError`] with the command back when the runtime is gone (dropped). A command
    /// sent after [`shutdown`](Self::shutdown) but before `run` returns is still delivered
    /// during the grace period.
    pub fn send(&self, command: C) -> Result<(), HandleError<C>> {
        self.tx.send(Control::Command(command)).map_err(|e| match e.0 {
            Control::Command(c) => HandleError { command: Some(c) },
            Control::Shutdown => HandleError { command: None },
        })?;
        // A failed wake means the poll is gone with the runtime; the command stays queued.
        let _ = self.waker.wake();
        Ok(())
    }

    /// Asks the loop to shut down gracefully: it stops reading, calls
    /// [`Stack::handle_shutdown`](crate::Stack::handle_shutdown), writes what is queued for at
    /// most [`shutdown_grace`](crate::RuntimeConfig::shutdown_grace), closes every socket and
    /// returns from [`Runtime::run`](crate::Runtime::run). Idempotent; harmless when the
    /// runtime is gone.
    pub fn shutdown(&self) {
        if self.tx.send(Control::Shutdown).is_ok() {
            let _ = self.waker.wake();
        }
    }

    /// The runtime's counters now (readable while it runs, and after).
    #[must_use]
    pub fn stats(&self) -> RuntimeStats {
        self.stats.snapshot()
    }
}

/// The runtime is gone; the command that could not be delivered is returned.
pub struct HandleError<C> {
    command: Option<C>,
}

impl<C> HandleError<C> {
    /// The command that was not delivered.
    #[must_use]
    pub fn into_command(self) -> Option<C> {
        self.command
    }
}

impl<C> fmt::Debug for HandleError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HandleError(runtime gone)")
    }
}

impl<C> fmt::Display for HandleError<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the runtime is gone")
    }
}

impl<C> std::error::Error for HandleError<C> {}
