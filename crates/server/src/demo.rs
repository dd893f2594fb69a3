//! `--demo`: demo users, a linked simulator number, a few conversations and a trickle of
//! realistic customer messages, so the app has something to show on first start.

use std::time::Duration;

use handoff_channels::simulator::Inbound;
use handoff_channels::Jid;
use handoff_proto::{CreateUserRequest, DeviceId, DeviceKind, Media, MediaKind, Role, WorkspaceId};
use rand::{Rng, SeedableRng};
use tokio::task::JoinHandle;

use crate::http::devices::{create_device, Linking};
use crate::AppState;

/// Every demo account's password (printed at start).
pub const DEMO_PASSWORD: &str = "handoff-demo";

pub const DEMO_USERS: [(&str, &str, Role); 4] = [
    ("admin@handoff.local", "Alex Admin", Role::Admin),
    ("ana@handoff.local", "Ana Agent", Role::Agent),
    ("ben@handoff.local", "Ben Agent", Role::Agent),
    ("vic@handoff.local", "Vic Viewer", Role::Viewer),
];

const CUSTOMERS: [(&str, &str); 8] = [
    ("+4915112345678", "Lena Hoffmann"),
    ("+447700900123", "Oliver Smith"),
    ("+33612345678", "Camille Martin"),
    ("+5511987654321", "Rafael Souza"),
    ("+14155550123", "Maya Patel"),
    ("+34612345678", "Lucía García"),
    ("+819012345678", "Haruto Sato"),
    ("+27821234567", "Thandi Nkosi"),
];

/// The demo's one attachment, downloadable from the first customer's thread.
const DEMO_RECEIPT: &str = "Order #4821\nPaid 2026-11-20 by card\nTotal EUR 89.90\n";

const MESSAGES: [&str; 16] = [
    "Hi! My order #4821 hasn't arrived yet, can you check where it is?",
    "Hello, I was charged twice for my subscription this month.",
    "Can I change the delivery address for my order?",
    "Is the blue version back in stock?",
    "The app keeps logging me out since the last update.",
    "I'd like a refund for the broken item, I've attached a photo.",
    "Do you ship to Canada?",
    "Thanks, that worked!",
    "How long does a return usually take?",
    "My discount code SPRING20 says it's invalid.",
    "Can someone call me back? It's about my invoice.",
    "The package was left at the wrong door.",
    "Is there a student discount?",
    "I can't find the tracking link in my email.",
    "Hello? Anyone there?",
    "Perfect, thank you for the quick help 🙏",
];

/// Seeds once (an existing database keeps its data), then starts the trickle.
pub async fn seed(state: &AppState) -> anyhow::Result<JoinHandle<()>> {
    let users: i64 = {
        let mut conn = state.store.reader().await?;
        crate::store::people::count_users(&mut conn).await?
    };
    let fresh = users == 0;
    // The demo lives in the installation's first workspace.
    let ws = crate::store::workspaces::first(&mut *state.store.reader().await?).await?.id;
    if fresh {
        for (email, name, role) in DEMO_USERS {
            let req =
                CreateUserRequest { email: email.into(), name: name.into(), password: DEMO_PASSWORD.into(), role };
            crate::users::create_user(&state.store, crate::audit::Who::Server(ws), req)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        let device = create_device(
            state,
            crate::audit::Who::Server(ws),
            "Support line",
            DeviceKind::Simulator,
            Linking::Linked("+15550100"),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        state.devices.start(state, ws, &device).await?;
        seed_teams(state, ws, device.id).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        let sim = state.devices.get(device.id).and_then(|d| d.simulator.clone()).expect("simulator");
        for (i, (phone, name)) in CUSTOMERS.iter().take(4).enumerate() {
            let jid = Jid::parse(phone).expect("demo phone");
            sim.inject_inbound(Inbound {
                from: jid,
                alt: None,
                group: None,
                name: Some(name.to_string()),
                body: MESSAGES[i].to_string(),
                wa_message_id: None,
                // The first customer attaches their receipt: the thread shows a download.
                media: (i == 0).then(|| Media {
                    kind: MediaKind::Document,
                    filename: Some("receipt-4821.txt".into()),
                    mime: Some("text/plain".into()),
                    size: Some(DEMO_RECEIPT.len() as u32),
                    downloadable: true,
                }),
                content: (i == 0).then(|| DEMO_RECEIPT.as_bytes().to_vec()),
            })
            .await?;
        }
    }
    println!("Handoff demo: sign in with any of these (password {DEMO_PASSWORD:?}):");
    for (email, name, role) in DEMO_USERS {
        println!("  {email:<22} {name:<12} {}", role.as_str());
    }
    let state = state.clone();
    Ok(tokio::spawn(async move { trickle(state, ws).await }))
}

/// Two teams with SLA targets and two routing rules, made by the demo Admin: billing questions go
/// to Billing, everything else to Support (handed out as the agents come online).
async fn seed_teams(state: &AppState, ws: WorkspaceId, device_id: DeviceId) -> crate::error::Result<()> {
    let people = {
        let mut conn = state.store.reader().await?;
        crate::store::people::all_users(&mut conn, ws).await?
    };
    let find = |email: &str| people.iter().find(|u| u.email == email).cloned().expect("demo user");
    let admin = crate::auth::Actor {
        workspace: ws,
        user: find("admin@handoff.local"),
        token_hash: String::new(),
        session: None,
    };
    let (ana, ben) = (find("ana@handoff.local").id, find("ben@handoff.local").id);
    let team = |name: &str, cap, first_min: i64, resolution_h: i64| handoff_proto::CreateTeamRequest {
        name: name.into(),
        agent_cap: Some(cap),
        first_response_secs: Some(first_min * 60),
        resolution_secs: Some(resolution_h * 3600),
    };
    let support = crate::teams::create(state, &admin, team("Support", 5, 15, 8)).await?;
    crate::teams::set_members(state, &admin, support.id, vec![ana, ben]).await?;
    let billing = crate::teams::create(state, &admin, team("Billing", 3, 30, 24)).await?;
    crate::teams::set_members(state, &admin, billing.id, vec![ben]).await?;
    let rule = |name: &str, matches, team_id| handoff_proto::CreateRoutingRuleRequest {
        name: name.into(),
        position: None,
        matches,
        assign: handoff_proto::RuleAssign { team_id: Some(team_id), user_id: None },
    };
    let billing_words =
        handoff_proto::RuleMatch { regex: Some("(?i)refund|charged|invoice|discount".into()), ..Default::default() };
    crate::teams::create_rule(state, &admin, rule("Billing questions", billing_words, billing.id)).await?;
    let this_line = handoff_proto::RuleMatch { device_id: Some(device_id), ..Default::default() };
    crate::teams::create_rule(state, &admin, rule("Everything else", this_line, support.id)).await?;
    Ok(())
}

/// A customer message every 20-45 s through the workspace's first simulator device.
async fn trickle(state: AppState, ws: WorkspaceId) {
    let mut rng = rand::rngs::StdRng::from_os_rng();
    loop {
        tokio::time::sleep(Duration::from_secs(rng.random_range(20..=45))).await;
        let device = match state.store.reader().await {
            Ok(mut conn) => crate::store::devices::connected_simulator(&mut conn, ws).await.ok().flatten(),
            Err(_) => None,
        };
        let Some(sim) = device.and_then(|id| state.devices.get(id)).and_then(|d| d.simulator.clone()) else {
            continue;
        };
        let (phone, name) = CUSTOMERS[rng.random_range(0..CUSTOMERS.len())];
        let body = MESSAGES[rng.random_range(0..MESSAGES.len())];
        let jid = Jid::parse(phone).expect("demo phone");
        let inbound = Inbound {
            from: jid,
            alt: None,
            group: None,
            name: Some(name.into()),
            body: body.into(),
            wa_message_id: None,
            media: None,
            content: None,
        };
        if let Err(e) = sim.inject_inbound(inbound).await {
            tracing::debug!(error = %e, "demo message not delivered");
        }
    }
}
