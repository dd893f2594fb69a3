//! A tray host for tests (Linux): it owns `org.kde.StatusNotifierWatcher` on the session bus, as
//! a desktop's panel does, so the app finds somewhere to show its icon and closing the window
//! hides it instead of quitting. It prints `ready` once it owns the name, then
//! `registered <service>` for each tray icon that registers with it. `tests/desktop/` runs it.

#[cfg(target_os = "linux")]
struct Watcher {
    items: std::sync::Mutex<Vec<String>>,
}

#[cfg(target_os = "linux")]
#[zbus::interface(name = "org.kde.StatusNotifierWatcher")]
impl Watcher {
    async fn register_status_notifier_item(
        &self,
        service: String,
        #[zbus(header)] header: zbus::message::Header<'_>,
        #[zbus(signal_emitter)] emitter: zbus::object_server::SignalEmitter<'_>,
    ) {
        // An item names its bus connection, or only its object path (then the sender is it).
        let name = if service.starts_with('/') {
            format!("{}{service}", header.sender().map(|s| s.to_string()).unwrap_or_default())
        } else {
            service
        };
        println!("registered {name}");
        self.items.lock().unwrap_or_else(|p| p.into_inner()).push(name.clone());
        let _ = Self::status_notifier_item_registered(&emitter, &name).await;
    }

    async fn register_status_notifier_host(&self, _service: String) {}

    #[zbus(property)]
    async fn registered_status_notifier_items(&self) -> Vec<String> {
        self.items.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    #[zbus(property)]
    async fn is_status_notifier_host_registered(&self) -> bool {
        true
    }

    #[zbus(property)]
    async fn protocol_version(&self) -> i32 {
        0
    }

    #[zbus(signal)]
    async fn status_notifier_item_registered(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        service: &str,
    ) -> zbus::Result<()>;
}

#[cfg(target_os = "linux")]
#[tokio::main]
async fn main() {
    let watcher = Watcher { items: Default::default() };
    let _bus = zbus::connection::Builder::session()
        .name("org.kde.StatusNotifierWatcher")
        .serve_at("/StatusNotifierWatcher", watcher)
        .build()
        .await
        .expect("the StatusNotifierWatcher name on the session bus");
    println!("ready");
    std::future::pending::<()>().await;
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("tray-host is a Linux test tool");
    std::process::exit(1);
}
