//! A tray host for tests (Linux): it owns `org.kde.StatusNotifierWatcher` on the session bus, as
//! a desktop's panel does, so the app finds somewhere to show its icon and closing the window
//! hides it instead of quitting. It prints `ready` once it owns the name, then
//! `registered <service>` for each tray icon that registers with it. `tests/desktop/` runs it.
//!
//! `tray-host click <label>` clicks an item of the registered icon's menu, as a user does in the
//! panel: it reads the icon's `Menu` (a `com.canonical.dbusmenu` object), finds the item by its
//! label and sends it the `clicked` event. It prints `clicked <label>` and exits 0, or says why not
//! and exits 1.

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

/// One node of a dbusmenu layout: `(ia{sv}av)`, its children as variants of the same.
#[cfg(target_os = "linux")]
type Node = (i32, std::collections::HashMap<String, zbus::OwnedVariant>, Vec<zbus::OwnedVariant>);

/// The id of the first item under `node` whose label (mnemonic underscores aside) is `label`.
#[cfg(target_os = "linux")]
fn find_item(node: &Node, label: &str) -> Option<i32> {
    let (id, props, children) = node;
    let own = props.get("label").and_then(|v| String::try_from(v.try_clone().ok()?).ok());
    if own.is_some_and(|l| l.replace('_', "") == label) {
        return Some(*id);
    }
    children.iter().find_map(|child| {
        let child: Node = child.try_clone().ok()?.try_into().ok()?;
        find_item(&child, label)
    })
}

/// Clicks the menu item labelled `label` of the one registered tray icon.
#[cfg(target_os = "linux")]
async fn click(label: &str) -> Result<(), String> {
    let bus = zbus::Connection::session().await.map_err(|e| e.to_string())?;
    let watcher = zbus::Proxy::new(
        &bus,
        "org.kde.StatusNotifierWatcher",
        "/StatusNotifierWatcher",
        "org.kde.StatusNotifierWatcher",
    )
    .await
    .map_err(|e| e.to_string())?;
    let items: Vec<String> = watcher.get_property("RegisteredStatusNotifierItems").await.map_err(|e| e.to_string())?;
    let [item] = items.as_slice() else { return Err(format!("not one tray icon registered: {items:?}")) };
    // "<bus name><object path>", or a bus name alone (then the path is the usual one).
    let (name, path) = match item.find('/') {
        Some(at) => (&item[..at], &item[at..]),
        None => (item.as_str(), "/StatusNotifierItem"),
    };
    let icon = zbus::Proxy::new(&bus, name, path, "org.kde.StatusNotifierItem").await.map_err(|e| e.to_string())?;
    let menu_path: zbus::OwnedObjectPath =
        icon.get_property("Menu").await.map_err(|e| format!("the icon's Menu: {e}"))?;
    let menu =
        zbus::Proxy::new(&bus, name, menu_path.as_str(), "com.canonical.dbusmenu").await.map_err(|e| e.to_string())?;
    let (_revision, layout): (u32, Node) =
        menu.call("GetLayout", &(0i32, -1i32, Vec::<String>::new())).await.map_err(|e| format!("GetLayout: {e}"))?;
    let id = find_item(&layout, label).ok_or_else(|| format!("no item labelled {label:?} in the tray menu"))?;
    let data = zbus::Variant::from(0i32);
    let _: () = menu.call("Event", &(id, "clicked", data, 0u32)).await.map_err(|e| format!("Event: {e}"))?;
    Ok(())
}

#[cfg(target_os = "linux")]
#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, command, label] = args.as_slice() {
        if command != "click" {
            eprintln!("usage: tray-host [click <label>]");
            std::process::exit(2);
        }
        match click(label).await {
            Ok(()) => println!("clicked {label}"),
            Err(e) => {
                eprintln!("tray-host: {e}");
                std::process::exit(1);
            }
        }
        return;
    }
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
