//! Who may do what (issue 9, findings 1, 2 and 4), probed over HTTP as an
//! attacker would: an admin turning an invitation against the owner, an
//! invitation accepted for someone else's account, and API tokens used
//! beyond their scopes.

use serde_json::{Value, json};

use crate::dashboard::{csrf_token, page, post_form, sign_in, sign_in_as};
use crate::harness::{Devserver, faultline_cli};

const MEMBERS: &str = "/settings/faultline/members/";

/// Invites `email` with `role` into `org` as the signed-in `inviter`;
/// returns the link's path.
fn invite_to(server: &Devserver, org: &str, inviter: &str, email: &str, role: &str) -> String {
    let members = format!("/settings/{org}/members/");
    let token = csrf_token(&page(server, inviter, &members));
    let (status, html) = post_form(
        server,
        &members,
        inviter,
        Some(&server.url),
        &format!(
            "csrf_token={token}&action=invite&email={}&role={role}",
            email.replace('@', "%40")
        ),
    );
    assert_eq!(status, 200, "{html}");
    let start = html.find("/accept-invite/").expect("an invite link");
    html[start..start + "/accept-invite/".len() + 65].to_owned()
}

fn invite(server: &Devserver, inviter: &str, email: &str, role: &str) -> String {
    invite_to(server, "faultline", inviter, email, role)
}

/// A new account joins through an invitation; returns its session cookie.
fn join(server: &Devserver, inviter: &str, email: &str, role: &str, password: &str) -> String {
    let link = invite(server, inviter, email, role);
    let (status, html) = post_form(
        server,
        &link,
        "",
        Some(&server.url),
        &format!("password={password}"),
    );
    assert_eq!(status, 303, "{html}");
    sign_in_as(server, email, password)
}

/// The row of `email` on the members page as `viewer` sees it.
fn member_row(server: &Devserver, viewer: &str, email: &str) -> String {
    let html = page(server, viewer, MEMBERS);
    let start = html
        .find(&format!("data-email=\"{email}\""))
        .unwrap_or_else(|| panic!("{email} is a member: {html}"));
    let row = &html[start..];
    row[..row.find("</tr>").unwrap()].to_owned()
}

fn role_of(server: &Devserver, viewer: &str, email: &str) -> String {
    let row = member_row(server, viewer, email);
    let start = row.find("class=\"role\">").unwrap() + "class=\"role\">".len();
    row[start..start + row[start..].find('<').unwrap()].to_owned()
}

/// A member's user id, from the form `viewer` sees in their row.
fn member_id(server: &Devserver, viewer: &str, email: &str) -> String {
    let row = member_row(server, viewer, email);
    let start = row
        .find("name=\"user\" value=\"")
        .expect("a form for this member")
        + 19;
    row[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect()
}

fn change_member(server: &Devserver, who: &str, form: &str) -> (u16, String) {
    let token = csrf_token(&page(server, who, MEMBERS));
    post_form(
        server,
        MEMBERS,
        who,
        Some(&server.url),
        &format!("csrf_token={token}&{form}"),
    )
}

#[test]
fn an_admin_cannot_demote_or_remove_the_only_owner() {
    let server = Devserver::start();
    let owner = sign_in(&server, &server.url);
    let eve = join(
        &server,
        &owner,
        "eve@example.com",
        "admin",
        "eve-password-1",
    );
    let owner_id = member_id(&server, &eve, "admin@faultline.local");

    // Eve invites the owner's address as a member and opens the link
    // herself: signed out it only asks the account to sign in; signed in
    // as herself it is refused. The owner stays the owner.
    let link = invite(&server, &eve, "admin@faultline.local", "member");
    let (status, html) = post_form(
        &server,
        &link,
        "",
        Some(&server.url),
        "password=attacker-chose-1",
    );
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Sign in as admin@faultline.local"), "{html}");
    let (status, html) = post_form(&server, &link, &eve, Some(&server.url), "");
    assert_eq!(status, 403, "{html}");
    assert!(
        html.contains("signed in as <strong>eve@example.com"),
        "{html}"
    );
    assert_eq!(role_of(&server, &eve, "admin@faultline.local"), "owner");

    // Nor can she change or remove the owner directly.
    for form in [
        format!("action=remove&user={owner_id}"),
        format!("action=role&user={owner_id}&role=member"),
    ] {
        let (status, html) = change_member(&server, &eve, &form);
        assert_eq!(status, 400, "{html}");
        assert!(html.contains("Only owners can change or remove an owner"));
    }
    assert_eq!(role_of(&server, &eve, "admin@faultline.local"), "owner");

    // The owner accepting that invitation, signed in, joins nothing new
    // and keeps the role; the link then is used up.
    let page_html = page(&server, &owner, &link);
    assert!(page_html.contains("id=\"accept\""), "{page_html}");
    let token = csrf_token(&page_html);
    let (status, _) = post_form(
        &server,
        &link,
        &owner,
        Some(&server.url),
        &format!("csrf_token={token}"),
    );
    assert_eq!(status, 303);
    assert_eq!(role_of(&server, &eve, "admin@faultline.local"), "owner");
    let (status, _) = post_form(
        &server,
        &link,
        &owner,
        Some(&server.url),
        &format!("csrf_token={token}"),
    );
    assert_eq!(status, 404, "an invitation works once");

    // The only owner cannot step down or leave, whoever asks.
    for form in [
        format!("action=role&user={owner_id}&role=admin"),
        format!("action=remove&user={owner_id}"),
    ] {
        let (status, html) = change_member(&server, &owner, &form);
        assert_eq!(status, 400, "{html}");
        assert!(html.contains("keeps at least one owner"), "{html}");
    }
    // With a second owner, the first may step down; the last may not.
    let eve_id = member_id(&server, &owner, "eve@example.com");
    assert_eq!(
        change_member(
            &server,
            &owner,
            &format!("action=role&user={eve_id}&role=owner")
        )
        .0,
        303
    );
    assert_eq!(
        change_member(
            &server,
            &owner,
            &format!("action=role&user={owner_id}&role=member")
        )
        .0,
        303
    );
    assert_eq!(role_of(&server, &eve, "admin@faultline.local"), "member");
    let (status, html) = change_member(&server, &eve, &format!("action=remove&user={eve_id}"));
    assert_eq!(status, 400, "{html}");
    assert_eq!(role_of(&server, &eve, "eve@example.com"), "owner");
}

#[test]
fn invitations_to_existing_accounts_need_that_account_signed_in() {
    let server = Devserver::start();
    let owner = sign_in(&server, &server.url);
    let mallory = join(
        &server,
        &owner,
        "mallory@example.com",
        "admin",
        "mallory-pass-1",
    );

    // Mallory, an admin here, invites the victim's address and accepts it
    // with a password she chooses: the account now exists.
    let link = invite(&server, &mallory, "victim@example.com", "member");
    let (status, _) = post_form(
        &server,
        &link,
        "",
        Some(&server.url),
        "password=mallory-chose-1",
    );
    assert_eq!(status, 303);

    // Another organization invites the same address. Its link cannot be
    // accepted by choosing a password: the account has to sign in first.
    let (status, org) = server.send_json(
        "POST",
        "/api/0/organizations/",
        json!({"name": "Second Org"}),
    );
    assert_eq!(status, 201, "{org}");
    assert_eq!(org["slug"], "second-org");
    let link = invite_to(&server, "second-org", &owner, "victim@example.com", "admin");
    let html = page(&server, "", &link);
    assert!(html.contains("Sign in as victim@example.com"), "{html}");
    assert!(!html.contains("name=\"password\""), "{html}");
    let (status, html) = post_form(
        &server,
        &link,
        "",
        Some(&server.url),
        "password=mallory-new-pass-1",
    );
    assert_eq!(status, 200, "{html}");
    assert!(html.contains("Sign in as victim@example.com"));
    // Nothing changed: the password is still the old one, and the account
    // is in no second organization.
    let (status, _) = post_form(
        &server,
        "/auth/login/",
        "",
        Some(&server.url),
        "email=victim%40example.com&password=mallory-new-pass-1",
    );
    assert_eq!(status, 200, "the new password was not set");
    // Signed in as another account, the link is refused.
    let (status, _) = post_form(&server, &link, &mallory, Some(&server.url), "");
    assert_eq!(status, 403);
    assert_eq!(
        page_status(&server, &mallory, "/settings/second-org/members/"),
        404,
        "Mallory did not join"
    );

    // Signed in as the invited account, one click joins, once.
    let victim = sign_in_as(&server, "victim@example.com", "mallory-chose-1");
    let html = page(&server, &victim, &link);
    let token = csrf_token(&html);
    let (status, _) = post_form(&server, &link, &victim, Some(&server.url), "");
    assert_eq!(status, 403, "the session's form token is required");
    let (status, _) = post_form(
        &server,
        &link,
        &victim,
        Some(&server.url),
        &format!("csrf_token={token}"),
    );
    assert_eq!(status, 303);
    assert!(page(&server, &victim, "/settings/second-org/members/").contains("victim@example.com"));
    assert_eq!(
        page_status(&server, "", &link),
        404,
        "an invitation works once"
    );
}

fn page_status(server: &Devserver, cookie: &str, path: &str) -> u16 {
    ureq::get(format!("{}{path}", server.url))
        .header("Cookie", cookie)
        .config()
        .http_status_as_error(false)
        .build()
        .call()
        .unwrap()
        .status()
        .as_u16()
}

/// `faultline token create` for `email` with `scopes`.
pub(crate) fn token_with(server: &Devserver, email: &str, scopes: &[&str]) -> String {
    let mut args = vec!["token", "create", "--email", email];
    for scope in scopes {
        args.extend(["--scope", scope]);
    }
    let (ok, token, stderr) = faultline_cli(&args, server.dir.path());
    assert!(ok, "{stderr}");
    token
}

fn api(
    server: &Devserver,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let url = format!("{}{path}", server.url);
    let auth = format!("Bearer {token}");
    let mut resp = match (method, body) {
        ("GET", _) => agent.get(url).header("Authorization", auth).call(),
        ("PUT", Some(body)) => agent.put(url).header("Authorization", auth).send_json(body),
        ("POST", Some(body)) => agent
            .post(url)
            .header("Authorization", auth)
            .send_json(body),
        (other, _) => panic!("{other}"),
    }
    .unwrap();
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[test]
fn token_scopes_are_enforced_and_capped_by_role() {
    let server = Devserver::start();
    let id = server.first_issue("scoped");
    let issue = format!("/api/0/issues/{id}/");
    let resolve = || Some(json!({"status": "resolved"}));

    // A read-only token reads issues and events, and changes nothing.
    let read = token_with(&server, "admin@faultline.local", &["event:read"]);
    let (_, index) = api(&server, &read, "GET", "/api/0/", None);
    assert_eq!(index["auth"]["scopes"], json!(["event:read"]));
    assert_eq!(
        api(
            &server,
            &read,
            "GET",
            "/api/0/projects/faultline/default/issues/",
            None
        )
        .0,
        200
    );
    assert_eq!(api(&server, &read, "GET", &issue, None).0, 200);
    // The event store catches up a moment after the issue counts.
    server.wait_for("the latest event, read with event:read", |s| {
        (api(s, &read, "GET", &format!("{issue}events/latest/"), None).0 == 200).then_some(())
    });
    let (status, body) = api(&server, &read, "PUT", &issue, resolve());
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["detail"],
        "You do not have permission to perform this action."
    );
    assert_eq!(
        api(
            &server,
            &read,
            "PUT",
            &format!("/api/0/organizations/faultline/issues/?id={id}"),
            resolve()
        )
        .0,
        403
    );
    assert_eq!(
        api(
            &server,
            &read,
            "POST",
            "/api/0/teams/faultline/faultline/projects/",
            Some(json!({"name": "Sneaky"}))
        )
        .0,
        403
    );
    assert_eq!(
        api(
            &server,
            &read,
            "GET",
            "/api/0/organizations/faultline/projects/",
            None
        )
        .0,
        403
    );
    assert_eq!(server.get(&issue).1["status"], "unresolved");

    // Every scope on a member's token: capped by the member role, it
    // triages but cannot create projects or teams or change keys.
    let owner = sign_in(&server, &server.url);
    join(
        &server,
        &owner,
        "dev@example.com",
        "member",
        "dev-password-1",
    );
    let all = [
        "org:admin",
        "project:admin",
        "team:admin",
        "member:admin",
        "event:admin",
        "project:releases",
    ];
    let dev = token_with(&server, "dev@example.com", &all);
    assert_eq!(api(&server, &dev, "PUT", &issue, resolve()).0, 200);
    assert_eq!(
        api(
            &server,
            &dev,
            "POST",
            "/api/0/teams/faultline/faultline/projects/",
            Some(json!({"name": "Sneaky"}))
        )
        .0,
        403
    );
    assert_eq!(
        api(
            &server,
            &dev,
            "POST",
            "/api/0/organizations/faultline/teams/",
            Some(json!({"name": "Sneaky"}))
        )
        .0,
        403
    );
    let (_, keys) = api(
        &server,
        &dev,
        "GET",
        "/api/0/projects/faultline/default/keys/",
        None,
    );
    let key = keys[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(
        api(
            &server,
            &dev,
            "PUT",
            &format!("/api/0/projects/faultline/default/keys/{key}/"),
            Some(json!({"isActive": false}))
        )
        .0,
        403
    );
    assert_eq!(
        api(
            &server,
            &dev,
            "POST",
            "/api/0/organizations/",
            Some(json!({"name": "Mine"}))
        )
        .0,
        403,
        "only superusers create organizations"
    );
    // The owner's full token does all of it.
    let (status, body) = server.send_json(
        "POST",
        "/api/0/teams/faultline/faultline/projects/",
        json!({"name": "Allowed"}),
    );
    assert_eq!(status, 201, "{body}");

    // Unknown scopes are refused when the token is made.
    let (ok, _, stderr) = faultline_cli(
        &[
            "token",
            "create",
            "--email",
            "dev@example.com",
            "--scope",
            "everything",
        ],
        server.dir.path(),
    );
    assert!(!ok);
    assert!(stderr.contains("unknown scope everything"), "{stderr}");

    // A dashboard token carries the scopes ticked on its form, and no others.
    let tokens = "/settings/account/api/auth-tokens/";
    let form_token = csrf_token(&page(&server, &owner, tokens));
    let (status, html) = post_form(
        &server,
        tokens,
        &owner,
        Some(&server.url),
        &format!(
            "csrf_token={form_token}&action=create&name=ci&scope=event%3Aread&scope=project%3Areleases"
        ),
    );
    assert_eq!(status, 200, "{html}");
    let start = html.find("id=\"new-token-value\"").expect("the new token");
    let value = &html[html[..start].rfind("value=\"").unwrap() + 7..];
    let new_token = &value[..value.find('"').unwrap()];
    let (_, index) = api(&server, new_token, "GET", "/api/0/", None);
    assert_eq!(
        index["auth"]["scopes"],
        json!(["event:read", "project:releases"])
    );
    let (status, _) = post_form(
        &server,
        tokens,
        &owner,
        Some(&server.url),
        &format!("csrf_token={form_token}&action=create&name=ci&scope=root"),
    );
    assert_eq!(status, 400);
}
