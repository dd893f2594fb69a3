//! The tray icon: how many conversations wait on me in every workspace together (as its label
//! and tooltip, and the window's badge where the platform has one), and a menu: Open, Do not
//! disturb (every workspace), Quit. A desktop without a tray (or without its library) still runs
//! the app: creating the tray is guarded.

use handoff_core::InboxView;
use tauri::menu::{CheckMenuItem, Menu, MenuItem};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Manager, Wry};

use crate::prefs::Saved;
use crate::AppCore;

/// The Do-not-disturb menu item, kept so settings changed elsewhere show in the menu.
struct DndItem(CheckMenuItem<Wry>);

pub fn create(app: &AppHandle, dnd: bool) -> Option<TrayIcon> {
    let build = || -> tauri::Result<TrayIcon> {
        let open = MenuItem::with_id(app, "open", "Open Handoff", true, None::<&str>)?;
        let dnd_item = CheckMenuItem::with_id(app, "dnd", "Do not disturb", true, dnd, None::<&str>)?;
        let quit = MenuItem::with_id(app, "quit", "Quit", true, None::<&str>)?;
        let menu = Menu::with_items(app, &[&open, &dnd_item, &quit])?;
        let mut builder = TrayIconBuilder::with_id("main").menu(&menu).tooltip("Handoff").on_menu_event(on_menu);
        if let Some(icon) = app.default_window_icon() {
            builder = builder.icon(icon.clone());
        }
        let tray = builder.build(app)?;
        app.manage(DndItem(dnd_item));
        Ok(tray)
    };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(build)) {
        Ok(Ok(tray)) => Some(tray),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "no tray icon");
            None
        }
        Err(_) => {
            tracing::warn!("no tray icon: the tray library is missing");
            None
        }
    }
}

fn on_menu(app: &AppHandle, event: tauri::menu::MenuEvent) {
    match event.id.as_ref() {
        "open" => crate::lifecycle::bring_forward(app),
        // Do not disturb in every workspace (on unless all were on already); each workspace's
        // own stays in its Settings.
        "dnd" => {
            let core = app.state::<AppCore>();
            let on = !all_open_dnd(&core);
            for w in core.workspaces.all() {
                let mut settings = w.notifier.settings();
                settings.dnd = on;
                core.prefs.set_notifications(&w.key, settings.clone());
                w.notifier.set_settings(settings);
            }
            show_dnd(app);
        }
        "quit" => app.exit(0),
        _ => {}
    }
}

/// Do not disturb is on in every signed-in workspace (and there is one), as saved: what the
/// tray shows before the workspaces open.
pub fn all_dnd(saved: &Saved) -> bool {
    let mut signed_in = saved.workspaces.iter().filter(|w| w.signed_in).peekable();
    signed_in.peek().is_some() && signed_in.all(|w| w.notifications.dnd)
}

/// Do not disturb is on in every workspace in the app (and there is one).
fn all_open_dnd(core: &AppCore) -> bool {
    let open = core.workspaces.all();
    !open.is_empty() && open.iter().all(|w| w.notifier.settings().dnd)
}

/// Shows in the tray menu whether Do not disturb is on everywhere.
pub fn show_dnd(app: &AppHandle) {
    if let (Some(item), Some(core)) = (app.try_state::<DndItem>(), app.try_state::<AppCore>()) {
        let _ = item.0.set_checked(all_open_dnd(&core));
    }
}

/// Conversations waiting on me, in every workspace: mine, with customer messages I have not read.
pub async fn update_count(app: &AppHandle) {
    let Some(core) = app.try_state::<AppCore>() else { return };
    let mut waiting = 0;
    for w in core.workspaces.all() {
        if let Ok(mine) = w.client.inbox(InboxView::Mine, 5000).await {
            waiting += mine.iter().filter(|c| c.unread_count > 0).count();
        }
    }
    if let Some(tray) = app.tray_by_id("main") {
        let _ = tray.set_title(Some(if waiting > 0 { waiting.to_string() } else { String::new() }));
        let tip = match waiting {
            0 => "Handoff: nothing waiting on you".to_string(),
            1 => "Handoff: 1 conversation waiting on you".to_string(),
            n => format!("Handoff: {n} conversations waiting on you"),
        };
        let _ = tray.set_tooltip(Some(tip));
    }
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.set_badge_count((waiting > 0).then_some(waiting as i64));
    }
}
