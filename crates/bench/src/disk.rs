//! A probe of the disk the servers write to: through a run, it writes 4 KB to a file of its own
//! and syncs it (`fdatasync`), ten times a second, and keeps the longest sync of each second. A
//! second where Handoff's commits stalled and the probe's sync did too is the disk's stall, not
//! the server's; nats-server writes nothing, so its run shows the disk on its own.

use std::io::{Seek, SeekFrom, Write};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often the probe syncs.
const EVERY: Duration = Duration::from_millis(100);

pub struct DiskProbe {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<std::io::Result<Vec<f64>>>>,
}

impl DiskProbe {
    /// Starts probing in the system's temporary folder (where the servers' data folders are).
    pub fn start() -> std::io::Result<DiskProbe> {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::Builder::new().name("bench-disk".into()).spawn(move || {
            let mut file = tempfile::tempfile()?;
            let block = [0x5a_u8; 4096];
            let started = Instant::now();
            let mut longest: Vec<f64> = Vec::new();
            while !stopped.load(Relaxed) {
                let at = Instant::now();
                file.seek(SeekFrom::Start(0))?;
                file.write_all(&block)?;
                file.sync_data()?;
                let took = at.elapsed().as_secs_f64() * 1000.0;
                let second = started.elapsed().as_secs() as usize;
                if longest.len() <= second {
                    longest.resize(second + 1, 0.0);
                }
                longest[second] = longest[second].max((took * 10.0).round() / 10.0);
                // The probe's own pace (not a wait for anything to be ready).
                std::thread::sleep(EVERY.saturating_sub(at.elapsed()));
            }
            Ok(longest)
        })?;
        Ok(DiskProbe { stop, thread: Some(thread) })
    }

    /// Stops the probe; the longest sync of each second, in milliseconds.
    pub fn stop(mut self) -> anyhow::Result<Vec<f64>> {
        self.stop.store(true, Relaxed);
        let thread = self.thread.take().expect("stopped once");
        thread.join().map_err(|_| anyhow::anyhow!("the disk probe panicked"))?.map_err(Into::into)
    }
}

/// A run that ends early (an error) stops its probe too.
impl Drop for DiskProbe {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
    }
}
