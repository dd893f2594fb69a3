//! The running device adapters, one per linked number, and the sink that feeds their events to ingest.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, Weak};

use handoff_channels::simulator::SimulatorConfig;
use handoff_channels::waha::{Retry, WahaAdapter, WahaConfig};
use handoff_channels::{DeviceAdapter, DeviceEvent, EventSink, Simulator, SinkError};
use handoff_proto::{Device, DeviceId, DeviceKind, DeviceStatus, QrResponse, WorkspaceId};
use uuid::Uuid;

use crate::{inbound, AppInner, AppState};

/// One running adapter.
pub struct DeviceHandle {
    /// The workspace the device belongs to: what it receives is stored there.
    pub workspace: WorkspaceId,
    pub adapter: Arc<dyn DeviceAdapter>,
    /// Set for simulator devices: the control endpoints drive it.
    pub simulator: Option<Arc<Simulator>>,
    /// Set for gateway devices: the adapter and the secret its webhooks are signed with.
    pub gateway: Option<(Arc<WahaAdapter>, String)>,
    /// The current QR code while the device waits to be linked.
    pub qr: Mutex<Option<QrResponse>>,
}

#[derive(Default)]
pub struct Devices {
    map: RwLock<HashMap<DeviceId, Arc<DeviceHandle>>>,
    /// One start at a time: on several nodes the lease loop and the request that added a device
    /// may both start it, and it must run once.
    starting: tokio::sync::Mutex<()>,
}

impl Devices {
    pub fn get(&self, id: DeviceId) -> Option<Arc<DeviceHandle>> {
        self.map.read().unwrap_or_else(|p| p.into_inner()).get(&id).cloned()
    }

    /// The running device `id` if it belongs to workspace `ws` (what a request may reach).
    pub fn get_in(&self, ws: WorkspaceId, id: DeviceId) -> Option<Arc<DeviceHandle>> {
        self.get(id).filter(|handle| handle.workspace == ws)
    }

    pub fn remove(&self, id: DeviceId) -> Option<Arc<DeviceHandle>> {
        self.map.write().unwrap_or_else(|p| p.into_inner()).remove(&id)
    }

    /// Creates and starts the adapter for a stored device of workspace `ws` (once: a running one
    /// is left alone).
    pub async fn start(&self, state: &AppState, ws: WorkspaceId, device: &Device) -> anyhow::Result<()> {
        // The worker first, whatever follows: a device whose adapter does not start still has its
        // replies looked at (held as for a number that is down, then failed with the reason).
        state.outbound.start(state, device.id);
        let _one_at_a_time = self.starting.lock().await;
        if self.get(device.id).is_some() {
            return Ok(());
        }
        let mut gateway = None;
        let (adapter, simulator): (Arc<dyn DeviceAdapter>, _) = match device.kind {
            DeviceKind::Simulator => {
                // A fresh seed per start: a restarted simulator must not hand out the WhatsApp ids
                // it gave before (they are unique per device).
                let seed = u64::from_le_bytes(Uuid::new_v4().as_bytes()[8..].try_into().expect("8 bytes"));
                let config = SimulatorConfig {
                    seed,
                    phone: device.phone.clone().unwrap_or_else(|| "+15550100".into()),
                    linked: device.status == DeviceStatus::Connected,
                    receipt_delay: if state.config.simulator_receipts {
                        SimulatorConfig::default().receipt_delay
                    } else {
                        None
                    },
                };
                let sim = Simulator::new(config);
                (sim.clone(), Some(sim))
            }
            DeviceKind::Gateway => {
                let stored = crate::store::devices::gateway_of(&mut *state.store.reader().await?, device.id).await?;
                let (config, secret) = stored.ok_or_else(|| anyhow::anyhow!("gateway device without its settings"))?;
                let waha = WahaAdapter::new(
                    WahaConfig { base_url: config.base_url, api_key: config.api_key, session: config.session },
                    Retry::default(),
                );
                gateway = Some((waha.clone(), secret));
                (waha, None)
            }
            #[cfg(feature = "whatsapp-web")]
            DeviceKind::WhatsappWeb => {
                use handoff_channels::whatsapp_web::{Store, WhatsappWeb};
                // One persistent store per device: its keys and sessions survive restarts.
                let path = session_store(&state.config.data_dir, device.id);
                // Linked by a code typed on the phone instead of the QR code, when the Admin asked.
                let pair_phone =
                    crate::store::devices::pair_phone(&mut *state.store.reader().await?, device.id).await?;
                (WhatsappWeb::new(Store::File(path), None, pair_phone), None)
            }
            #[cfg(not(feature = "whatsapp-web"))]
            DeviceKind::WhatsappWeb => {
                anyhow::bail!("this server was built without whatsapp_web devices (cargo feature `whatsapp-web`)")
            }
        };
        let handle = Arc::new(DeviceHandle {
            workspace: ws,
            adapter: adapter.clone(),
            simulator,
            gateway,
            qr: Mutex::new(None),
        });
        self.map.write().unwrap_or_else(|p| p.into_inner()).insert(device.id, handle);
        state.outbound.wake(state, device.id); // a reply held for want of the adapter goes now
        let sink = Arc::new(IngestSink { app: Arc::downgrade(&state.0), workspace: ws, device_id: device.id });
        adapter.start(sink).await?;
        Ok(())
    }
}

/// Where a `whatsapp_web` device keeps its WhatsApp keys and sessions: an SQLite file (with its
/// `-wal` and `-shm` beside it) in the data folder.
pub fn session_store(data_dir: &Path, id: DeviceId) -> PathBuf {
    data_dir.join("whatsapp").join(format!("{id}.db"))
}

/// Deletes a removed device's session store, so its keys do not outlive it on disk. Returns how
/// many files went (none for a device that never had a store).
pub fn delete_session_store(data_dir: &Path, id: DeviceId) -> usize {
    let db = session_store(data_dir, id);
    let mut gone = 0;
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut path = db.clone().into_os_string();
        path.push(suffix);
        match std::fs::remove_file(&path) {
            Ok(()) => gone += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(device = %id, path = %Path::new(&path).display(), error = %e, "a removed device's session store was not deleted")
            }
        }
    }
    gone
}

/// Feeds one device's events into ingest; each `deliver` returns once the event is committed.
struct IngestSink {
    app: Weak<AppInner>,
    workspace: WorkspaceId,
    device_id: DeviceId,
}

#[async_trait::async_trait]
impl EventSink for IngestSink {
    async fn deliver(&self, event: DeviceEvent) -> Result<(), SinkError> {
        let app = self.app.upgrade().ok_or_else(|| SinkError("the server is shutting down".into()))?;
        inbound::device_event(&AppState(app), self.workspace, self.device_id, event)
            .await
            .map_err(|e| SinkError(e.to_string()))
    }
}
