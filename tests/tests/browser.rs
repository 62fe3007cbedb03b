//! The pages people open from an email, in a real browser, used with the keyboard only:
//! accepting an invitation, registering through the account's link (with and without
//! approval), and setting a new password. Each page is reached with Tab, filled by
//! typing and sent with Enter; errors must appear next to their field, tied to it by
//! `aria-describedby`, and a name with markup in it must be shown, not run.
//!
//! # What it needs
//!
//! Debian's `chromium` and `chromium-driver` (`.ci/run` installs them when missing). The
//! test starts `chromedriver` itself on a free port and drives headless Chromium
//! through it (WebDriver). Other locations can be given with `$CHROMEDRIVER` and
//! `$CHROMIUM`. Without them the test fails, saying what to install: a browser test
//! that passes without a browser would prove nothing.
//!
//! # Screenshots
//!
//! Every step is saved as a PNG under `target/browser-artifacts/<test>/` (inside
//! `$CARGO_TARGET_DIR` when set), or under `$EXTRANET_ARTIFACTS_DIR/<test>/`, numbered in
//! the order taken, whether the test passes or fails. The directory is emptied when
//! the test starts.

use e2e::{data, succeeded, App, Auth, Backend, SmtpSink, MAIL_TIMEOUT};
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

const INJECTED: &str = r#"<script>document.title="owned"</script>Gus"#;

/// A headless Chromium, driven through a chromedriver this test started. Both stop
/// when it is dropped, whether the test passed or failed.
struct Browser {
    client: Client,
    _driver: Child,
    driver_port: u16,
    session: Option<String>,
    artifacts: PathBuf,
    shots: u32,
}

impl Drop for Browser {
    /// Chromium outlives a chromedriver that is killed, so the session is ended first,
    /// which closes the browser. `Drop` cannot await, and the WebDriver client's
    /// connection lives on the test's runtime, so this is one plain blocking request.
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let Some(session) = &self.session else {
            return;
        };
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.driver_port)) else {
            return;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let request = format!(
            "DELETE /session/{session} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\
             Connection: close\r\nContent-Length: 0\r\n\r\n",
            port = self.driver_port
        );
        if stream.write_all(request.as_bytes()).is_ok() {
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
}

fn program(variable: &str, default: &str, package: &str) -> PathBuf {
    let path = std::env::var_os(variable).map_or_else(|| PathBuf::from(default), PathBuf::from);
    assert!(
        path.is_file(),
        "the browser test needs {} (Debian package `{package}`); install it with \
         `apt-get install -y chromium chromium-driver` (.ci/run does), or point ${variable} at it",
        path.display()
    );
    path
}

/// Where this test's screenshots go; emptied first.
fn artifacts_dir(test: &str) -> PathBuf {
    let root = match (
        std::env::var_os("EXTRANET_ARTIFACTS_DIR"),
        std::env::var_os("CARGO_TARGET_DIR"),
    ) {
        (Some(dir), _) => PathBuf::from(dir),
        (None, Some(target)) => workspace().join(target).join("browser-artifacts"),
        (None, None) => workspace().join("target").join("browser-artifacts"),
    };
    let dir = root.join(test);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("create the artifacts directory {}: {e}", dir.display()));
    dir
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate lives inside the workspace")
        .to_path_buf()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("find a free port")
}

impl Browser {
    async fn start(test: &str) -> Browser {
        let driver_path = program("CHROMEDRIVER", "/usr/bin/chromedriver", "chromium-driver");
        let chromium = program("CHROMIUM", "/usr/bin/chromium", "chromium");
        let artifacts = artifacts_dir(test);
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", driver_path.display()));
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=900,900",
                ],
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        // chromedriver takes a moment to listen; longer on a machine busy with the other
        // tests.
        let mut last_error = String::new();
        for _ in 0..300 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let session = client.session_id().await.ok().flatten();
                    return Browser {
                        client,
                        _driver: driver,
                        driver_port: port,
                        session,
                        artifacts,
                        shots: 0,
                    };
                }
                Err(e) => last_error = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not start Chromium through chromedriver at {url}: {last_error}");
    }

    async fn open(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Saves what the browser shows as `NN-<name>.png`.
    async fn shot(&mut self, name: &str) {
        self.shots += 1;
        let png = self.client.screenshot().await.expect("take a screenshot");
        let path = self.artifacts.join(format!("{:02}-{name}.png", self.shots));
        std::fs::write(&path, png)
            .unwrap_or_else(|e| panic!("save the screenshot {}: {e}", path.display()));
    }

    /// Presses and releases keys, as a keyboard does, into whatever has the focus.
    async fn keys(&self, keys: &[char]) {
        let mut actions = KeyActions::new("keyboard".to_owned());
        for key in keys {
            actions = actions
                .then(KeyAction::Down { value: *key })
                .then(KeyAction::Up { value: *key });
        }
        self.client
            .perform_actions(actions)
            .await
            .expect("press keys");
    }

    async fn type_text(&self, text: &str) {
        let keys: Vec<char> = text.chars().collect();
        self.keys(&keys).await;
    }

    /// Selects everything in the focused field (Ctrl+A) and types `text` over it.
    async fn replace_text(&self, text: &str) {
        let control: char = Key::Control.into();
        let actions = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value: control })
            .then(KeyAction::Down { value: 'a' })
            .then(KeyAction::Up { value: 'a' })
            .then(KeyAction::Up { value: control });
        self.client
            .perform_actions(actions)
            .await
            .expect("select all");
        self.type_text(text).await;
    }

    /// The id of the element that has the focus ("" for none).
    async fn focused(&self) -> String {
        let value = self
            .client
            .execute(
                "return document.activeElement ? document.activeElement.id : '';",
                Vec::new(),
            )
            .await
            .expect("ask for the focused element");
        value.as_str().unwrap_or_default().to_owned()
    }

    /// Presses Tab until the field `id` has the focus, as a keyboard user does; fails
    /// if it is never reached.
    async fn tab_to(&self, id: &str) {
        let mut seen = Vec::new();
        for _ in 0..12 {
            self.keys(&[Key::Tab.into()]).await;
            let now = self.focused().await;
            if now == id {
                return;
            }
            seen.push(now);
        }
        panic!("Tab never reached #{id}; the focus went through {seen:?}");
    }

    /// Presses Enter in the focused field and waits for the page the form leads to.
    async fn submit_with_enter(&self) {
        self.client
            .execute("window.__extranetBefore = true;", Vec::new())
            .await
            .expect("mark the page");
        self.keys(&[Key::Enter.into()]).await;
        // Up to 30 s: hashing a password takes a while on a busy machine.
        for _ in 0..600 {
            let loaded = self
                .client
                .execute(
                    "return !window.__extranetBefore && document.readyState === 'complete';",
                    Vec::new(),
                )
                .await
                .unwrap_or(Value::Bool(false));
            if loaded == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("pressing Enter led to no new page");
    }

    async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .text()
            .await
            .unwrap_or_else(|e| panic!("read the text of {css}: {e}"))
    }

    async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .attr(name)
            .await
            .unwrap_or_else(|e| panic!("read {name} of {css}: {e}"))
    }

    async fn value(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("find {css}: {e}"))
            .prop("value")
            .await
            .unwrap_or_else(|e| panic!("read the value of {css}: {e}"))
            .unwrap_or_default()
    }

    /// Whether the page runs no script of ours or anyone's: none in the document, the
    /// title untouched and no dialog open.
    async fn ran_no_script(&self) -> bool {
        let scripts = self
            .client
            .execute("return document.scripts.length;", Vec::new())
            .await
            .expect("count scripts");
        let title = self.client.title().await.expect("read the title");
        scripts == json!(0) && title != "owned" && self.client.get_alert_text().await.is_err()
    }

    /// The session cookie the browser holds, if any (WebDriver sees HttpOnly ones).
    async fn session_cookie(&self) -> Option<String> {
        self.client
            .get_named_cookie(e2e::SESSION_COOKIE)
            .await
            .ok()
            .map(|cookie| cookie.value().to_owned())
    }

    /// Forgets every cookie: the next person at this browser.
    async fn log_out_everyone(&self) {
        self.client
            .delete_all_cookies()
            .await
            .expect("delete the cookies");
    }

    /// Asserts that the field `id` shows `message` in its own error element, tied to it.
    async fn assert_error_next_to(&self, id: &str, message: &str) {
        let field = format!("#{id}");
        assert_eq!(
            self.attr(&field, "aria-invalid").await.as_deref(),
            Some("true"),
            "#{id} is marked invalid"
        );
        let described = self
            .attr(&field, "aria-describedby")
            .await
            .unwrap_or_else(|| panic!("#{id} is described by its error"));
        let error = self.text(&format!("#{described}")).await;
        assert!(
            error.contains(message),
            "#{id}'s error says {message:?}: {error:?}"
        );
        // Right below the field, not somewhere else on the page.
        let adjacent = self
            .client
            .execute(
                "const f = document.getElementById(arguments[0]);
                 return f.nextElementSibling && f.nextElementSibling.id === arguments[1];",
                vec![json!(id), json!(described)],
            )
            .await
            .expect("look next to the field");
        assert_eq!(adjacent, json!(true), "#{id}'s error follows it");
    }
}

async fn viewer(app: &App, cookie: &str) -> Value {
    data(
        app.graphql(
            &Auth::Session(cookie.to_owned()),
            "{ viewer { email firstName kind } }",
            json!({}),
        )
        .await,
        "/viewer",
    )
}

async fn configure_link(app: &App, admin: &Auth, approval_required: bool) -> String {
    let payload = succeeded(
        app.graphql(
            admin,
            "mutation C($input: ConfigureRegistrationLinkInput!) {
                configureRegistrationLink(input: $input) {
                    link { url } userErrors { field message code }
                }
            }",
            json!({ "input": { "enabled": true, "approvalRequired": approval_required } }),
        )
        .await,
        "/configureRegistrationLink",
    );
    payload["link"]["url"]
        .as_str()
        .expect("the link has a URL")
        .to_owned()
}

#[tokio::test]
async fn the_pages_work_with_the_keyboard_alone() {
    // The browser first: without one, nothing else is worth starting.
    let mut browser = Browser::start("the_pages_work_with_the_keyboard_alone").await;
    let smtp = SmtpSink::start();
    let app = App::spawn(Backend::Sqlite, &smtp).await;
    let admin = app.login_admin().await;

    // 1. A guest accepts an invitation. The inviter typed markup into the name.
    let task = app
        .create_task(&admin, "Print the catalogue", Some("200 copies"))
        .await;
    app.invite_guest(
        &admin,
        &task,
        "gus@client.test",
        INJECTED,
        "Guest",
        "OBSERVER",
    )
    .await;
    let mail = smtp.wait_for_mail_to("gus@client.test").await;
    let link = mail.link().expect("the invitation has a link");
    browser.open(&link).await;
    browser.shot("invitation-form").await;
    assert!(
        browser.ran_no_script().await,
        "the prefilled name is not run"
    );
    browser.tab_to("first_name").await;
    assert_eq!(
        browser.value("#first_name").await,
        INJECTED,
        "shown as typed"
    );
    browser.tab_to("password").await;
    browser.type_text("short").await;
    browser.submit_with_enter().await;
    browser
        .assert_error_next_to("password", "at least 10 characters")
        .await;
    browser.shot("invitation-password-too-short").await;

    browser.tab_to("password").await;
    browser.type_text("gus's own passphrase").await;
    browser.submit_with_enter().await;
    browser.shot("invitation-accepted").await;
    assert_eq!(browser.text("h1").await, "You are in");
    let welcome = browser.text("main").await;
    assert!(
        welcome.contains(INJECTED),
        "the name is shown as text: {welcome}"
    );
    assert!(browser.ran_no_script().await, "the name is not run");
    let gus = browser.session_cookie().await.expect("accepting logs in");
    assert_eq!(viewer(&app, &gus).await["email"], "gus@client.test");

    // 2. Someone registers through the link; no approval needed, so they are in.
    let register = configure_link(&app, &admin, false).await;
    browser.log_out_everyone().await;
    browser.open(&register).await;
    browser.shot("registration-form").await;
    browser.tab_to("email").await;
    browser.type_text("gus@client.test").await;
    browser.tab_to("first_name").await;
    browser.type_text("Nia").await;
    browser.tab_to("last_name").await;
    browser.type_text("Newcomer").await;
    browser.tab_to("password").await;
    browser.type_text("nia's own passphrase").await;
    browser.submit_with_enter().await;
    browser
        .assert_error_next_to("email", "already uses this address")
        .await;
    browser.shot("registration-email-taken").await;
    assert_eq!(
        browser.value("#first_name").await,
        "Nia",
        "typed values stay"
    );
    browser.tab_to("email").await;
    browser.replace_text("nia@partner.test").await;
    browser.tab_to("password").await;
    browser.type_text("nia's own passphrase").await;
    browser.submit_with_enter().await;
    browser.shot("registration-welcome").await;
    assert_eq!(browser.text("h1").await, "You are in");
    let nia = browser.session_cookie().await.expect("registering logs in");
    let nia_viewer = viewer(&app, &nia).await;
    assert_eq!(nia_viewer["email"], "nia@partner.test");
    assert_eq!(nia_viewer["kind"], "EMPLOYEE");

    // 3. With approval required, the next one waits, and is let in by the administrator.
    configure_link(&app, &admin, true).await;
    browser.log_out_everyone().await;
    browser.open(&register).await;
    for (id, text) in [
        ("email", "bob@outside.test"),
        ("first_name", "Bob"),
        ("last_name", "Builder"),
        ("password", "bob's own passphrase"),
    ] {
        browser.tab_to(id).await;
        browser.type_text(text).await;
    }
    browser.submit_with_enter().await;
    browser.shot("registration-awaiting-approval").await;
    assert_eq!(browser.text("h1").await, "Waiting for approval");
    assert!(
        browser.session_cookie().await.is_none(),
        "not logged in yet"
    );
    let asks = smtp
        .wait_for(
            |m| m.is_addressed_to(&app.admin_email) && m.body_text().contains("bob@outside.test"),
            MAIL_TIMEOUT,
        )
        .await;
    let text = asks.body_text();
    let registration = text
        .lines()
        .find_map(|line| line.trim().strip_prefix("Registration: "))
        .unwrap_or_else(|| panic!("the mail names the registration:\n{text}"))
        .trim()
        .to_owned();
    succeeded(
        app.graphql(
            &admin,
            "mutation A($input: RegistrationInput!) {
                approveRegistration(input: $input) { person { id } userErrors { code } }
            }",
            json!({ "input": { "invitationId": registration } }),
        )
        .await,
        "/approveRegistration",
    );
    app.login("bob@outside.test", "bob's own passphrase").await;

    // 4. Nia forgets her password and sets a new one from the emailed link.
    browser.log_out_everyone().await;
    browser
        .open(&format!(
            "{}/password-reset/{}",
            app.base_url, app.account_in_links
        ))
        .await;
    browser.shot("reset-ask").await;
    browser.tab_to("email").await;
    browser.type_text("nia@partner.test").await;
    browser.submit_with_enter().await;
    browser.shot("reset-check-your-email").await;
    assert_eq!(browser.text("h1").await, "Check your email");
    let mail = smtp.wait_for_mail_to("nia@partner.test").await;
    let reset = mail
        .link_to("/password-reset/")
        .unwrap_or_else(|| panic!("the mail has a link:\n{}", mail.body_text()));
    browser.open(&reset).await;
    browser.shot("reset-form").await;
    browser.tab_to("password").await;
    browser.type_text("too short").await;
    browser.submit_with_enter().await;
    browser
        .assert_error_next_to("password", "at least 10 characters")
        .await;
    browser.shot("reset-password-too-short").await;
    browser.tab_to("password").await;
    browser.type_text("nia's brand new passphrase").await;
    browser.submit_with_enter().await;
    browser.shot("reset-done").await;
    assert_eq!(browser.text("h1").await, "Password changed");
    let renewed = browser.session_cookie().await.expect("the reset logs in");
    assert_eq!(viewer(&app, &renewed).await["email"], "nia@partner.test");
    assert!(
        viewer(&app, &nia).await.is_null(),
        "the session from before the reset ended"
    );
    app.login("nia@partner.test", "nia's brand new passphrase")
        .await;

    // Opened again, the link is spent.
    browser.open(&reset).await;
    browser.shot("reset-link-spent").await;
    assert_eq!(browser.text("h1").await, "This link was already used");
}
