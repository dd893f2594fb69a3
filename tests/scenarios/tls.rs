//! The server behind a real TLS-terminating reverse proxy (Caddy), as it is deployed, and real
//! client cores through it: https for the REST calls, wss for the live stream, one TLS stack.

use handoff_core::{Client, ClientOptions, ConnectionState, CoreError};
use handoff_proto::{MessageKind, Role};
use handoff_tests::tls_proxy::TlsProxy;
use handoff_tests::{settled, wait_for, World, PASSWORD};

async fn trusting(world: &World, email: &str, proxy: &TlsProxy) -> Client {
    let options = ClientOptions { extra_roots_pem: vec![proxy.cert_pem()], ..Default::default() };
    Client::open_with(&world.cache_path(email), &options).await.expect("cache opens")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_sign_in_stream_and_flush_their_outbox_through_a_tls_proxy() {
    let world = World::start().await;
    world.create_user("ana@test.local", "Ana", Role::Agent).await;
    let mut proxy = TlsProxy::start(&world.dir.path().join("caddy"), world.addr()).await;

    // Sign-in over https; the live stream over wss through the same proxy.
    let ana = trusting(&world, "ana@test.local", &proxy).await;
    let (info, _) = ana.sign_in(&proxy.url(), "ana@test.local", PASSWORD).await.expect("sign in over https");
    assert!(info.encrypted, "an https session is encrypted");
    assert_eq!(info.server, proxy.url());
    wait_for("online over wss", &ana, |c| async move { c.connection() == ConnectionState::Online }).await;

    // Live events arrive through the proxy.
    let msg = world.inbound("+4915112345678", "Is this line secure?", None).await;
    wait_for("the customer's message, live", &ana, |c| async move {
        c.thread(msg.conversation_id).await.ok().flatten().is_some_and(|t| t.messages.len() == 1)
    })
    .await;

    // The proxy restarts: the client goes offline, keeps a note in its outbox, and reconnects by
    // itself once the proxy is back; the note reaches the server exactly once.
    proxy.stop().await;
    wait_for("offline", &ana, |c| async move { matches!(c.connection(), ConnectionState::Offline { .. }) }).await;
    ana.note(msg.conversation_id, "Written while the proxy was down").await.expect("queued");
    assert_eq!(ana.outbox_len().await.unwrap(), 1);
    proxy.start_again().await;
    wait_for("back online", &ana, |c| async move { c.connection() == ConnectionState::Online }).await;
    settled(&world, &ana).await;
    let notes: Vec<_> =
        world.messages(msg.conversation_id).await.into_iter().filter(|m| m.kind == MessageKind::Note).collect();
    assert_eq!(notes.len(), 1, "the queued note was applied once: {notes:?}");
    assert_eq!(notes[0].body, "Written while the proxy was down");
    world.assert_converged(&ana).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_with_the_reason() {
    let world = World::start().await;
    world.create_user("ben@test.local", "Ben", Role::Agent).await;
    let proxy = TlsProxy::start(&world.dir.path().join("caddy"), world.addr()).await;
    // This client was not told to trust the test certificate: only the OS's store.
    let ben = Client::open(&world.cache_path("ben@test.local")).await.expect("cache opens");
    match ben.sign_in(&proxy.url(), "ben@test.local", PASSWORD).await {
        Err(CoreError::Tls { server, detail }) => {
            assert_eq!(server, proxy.url());
            assert!(detail.contains("certificate"), "the reason names the certificate: {detail}");
        }
        other => panic!("expected a TLS refusal, got {:?}", other.map(|(info, _)| info)),
    }
    assert!(ben.session().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_is_marked_and_refused_off_private_networks() {
    let world = World::start().await;
    world.create_user("cy@test.local", "Cy", Role::Agent).await;
    // The harness's server is on loopback: plain http is allowed there, and said to be unencrypted.
    let cy = Client::open(&world.cache_path("cy@test.local")).await.expect("cache opens");
    let (info, _) = cy.sign_in(&world.url, "cy@test.local", PASSWORD).await.expect("sign in");
    assert!(!info.encrypted, "{} is plain http", info.server);
    assert!(!cy.session().expect("signed in").encrypted);
    // A public host over plain http is refused before anything is sent.
    let other = Client::open(&world.cache_path("other")).await.expect("cache opens");
    match other.sign_in("http://inbox.example.com", "cy@test.local", PASSWORD).await {
        Err(CoreError::Invalid(reason)) => assert!(reason.contains("use https://inbox.example.com"), "{reason}"),
        other => panic!("expected a refusal, got {:?}", other.map(|(info, _)| info)),
    }
}
