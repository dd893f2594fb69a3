//! Accounts as the app lives them: a session that expires while the app was offline asks for the
//! password and carries on with the same cache and outbox; an Admin's password reset signs the
//! app out, and the temporary password only lets its owner choose a new one; people see their
//! sessions (named by the app's User-Agent) and end one.

use handoff_core::{Client, ConnectionState, CoreError};
use handoff_proto::{MessageKind, Role};
use handoff_tests::{settled, wait_for, World, PASSWORD};

async fn wait_state(what: &str, client: &Client, want: ConnectionState) {
    wait_for(what, client, |c| {
        let want = want.clone();
        async move { c.connection() == want }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_session_asks_for_the_password_and_keeps_the_cache_and_outbox() {
    let mut world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let ana = Client::open(&world.cache_path("ana@test.local")).await.unwrap();
    let (_, token) = ana.sign_in(&world.url, "ana@test.local", PASSWORD).await.unwrap();
    wait_state("online", &ana, ConnectionState::Online).await;
    let message = world.inbound("+4915112345678", "Where is my order?", None).await;
    settled(&world, &ana).await;

    // Offline, Ana writes a note; meanwhile her session runs out (two weeks unused).
    let addr = world.stop_server().await;
    wait_for("offline", &ana, |c| async move { matches!(c.connection(), ConnectionState::Offline { .. }) }).await;
    let note = "Called her: the parcel is at the depot.";
    ana.note(message.conversation_id, note).await.unwrap();
    world.clock.advance(chrono::Duration::days(15));
    world.start_server(addr).await;
    world.admin_token = world.login("admin@test.local").await.token; // the test's own session ran out too

    // Back online, the server refuses the session as expired: the app stops and says so.
    wait_state("signed out, expired", &ana, ConnectionState::SignedOut { expired: true }).await;
    assert_eq!(ana.outbox_len().await.unwrap(), 1, "the note waits in the outbox");
    assert!(ana.thread(message.conversation_id).await.unwrap().is_some(), "the cache is kept");

    // A restart of the app with the stored token opens the cached session, signed out.
    ana.stop().await;
    let info = ana.resume(&world.url, &token).await.expect("the cached session opens");
    assert_eq!(info.user.email, "ana@test.local");
    assert_eq!(ana.connection(), ConnectionState::SignedOut { expired: true });
    assert!(matches!(ana.sessions().await, Err(CoreError::SessionExpired)), "REST calls say why, too");

    // Her password carries on: same cache, and the note goes exactly once.
    ana.sign_in(&world.url, "ana@test.local", PASSWORD).await.unwrap();
    wait_for("the note sent", &ana, |c| async move { c.outbox_len().await.unwrap() == 0 }).await;
    settled(&world, &ana).await;
    let notes: Vec<_> = world
        .messages(message.conversation_id)
        .await
        .into_iter()
        .filter(|m| m.kind == MessageKind::Note && m.body == note)
        .collect();
    assert_eq!(notes.len(), 1, "the note reached the server once");
    world.assert_converged(&ana).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reset_password_signs_the_app_out_and_only_lets_its_owner_choose_a_new_one() {
    let world = World::start().await;
    let ana_user = world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let admin = world.client("admin@test.local").await;
    let ana = world.client("ana@test.local").await;

    assert!(
        matches!(ana.reset_password(admin.session().unwrap().user.id).await, Err(CoreError::Server(_))),
        "an Agent cannot reset passwords"
    );
    let temporary = admin.reset_password(ana_user.id).await.expect("an Admin resets a password");
    assert!(temporary.len() >= 12, "a temporary password worth the name: {temporary}");
    // Ana's open connection is ended (not expired) within the server's re-check.
    wait_state("Ana signed out", &ana, ConnectionState::SignedOut { expired: false }).await;
    assert!(matches!(ana.sign_in(&world.url, "ana@test.local", PASSWORD).await, Err(CoreError::WrongCredentials)));

    // The temporary password signs in, but nothing syncs until she has chosen her own.
    let connections = world.ws_sessions().await;
    let (info, _) = ana.sign_in(&world.url, "ana@test.local", &temporary).await.unwrap();
    assert!(info.user.must_change_password);
    let refused = ana.sessions().await.expect_err("only the password change answers");
    assert!(refused.to_string().contains("password"), "{refused}");
    // A round trip later, still no sync: not connecting, and no WebSocket opened on the server.
    assert_eq!(ana.connection(), ConnectionState::Idle, "no sync with a temporary password");
    assert_eq!(world.ws_sessions().await, connections, "no WebSocket with a temporary password");
    let wrong = ana.change_password("not it", "a new password of hers").await.expect_err("wrong current password");
    assert!(wrong.to_string().contains("current password"), "{wrong}");
    let info = ana.change_password(&temporary, "a new password of hers").await.expect("changed");
    assert!(!info.user.must_change_password);
    wait_state("online with her own password", &ana, ConnectionState::Online).await;

    // Her sessions: this app's, named by its User-Agent. A second app signs in; she ends it.
    let second = Client::open(&world.dir.path().join("second.db")).await.unwrap();
    second.sign_in(&world.url, "ana@test.local", "a new password of hers").await.unwrap();
    wait_state("the second app online", &second, ConnectionState::Online).await;
    let sessions = ana.sessions().await.unwrap();
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let mine = sessions.iter().find(|s| s.current).expect("this session is marked");
    assert!(mine.client.as_deref().is_some_and(|c| c.starts_with("Handoff-Desktop/")), "{:?}", mine.client);
    let other = sessions.iter().find(|s| !s.current).unwrap();
    ana.end_session(other.id).await.unwrap();
    wait_state("the second app signed out", &second, ConnectionState::SignedOut { expired: false }).await;
    assert_eq!(ana.sessions().await.unwrap().len(), 1);
    assert_eq!(ana.connection(), ConnectionState::Online, "ending another session leaves this one");

    let actions: Vec<String> = world.audit().await.into_iter().map(|e| e.action).collect();
    assert!(actions.iter().any(|a| a == "user.reset_password"), "{actions:?}");
    assert!(actions.iter().any(|a| a == "user.change_password"), "{actions:?}");
    world.stop().await;
}
