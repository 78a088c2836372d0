//! Access tokens on the resource routes: accepted on every dialect, refused when forged,
//! altered or unknown (401 in the dialect's format), checked against the database on every
//! request, and still valid after a signing-key rotation.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use reqwest::Method;
use roster_core::jwt::{Claims, KeyPair};
use serde_json::json;

use crate::helpers::{operator, test_server_key, TestApp};

fn claims_of(token: &str) -> serde_json::Value {
    let body = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap()
}

fn kid_of(token: &str) -> String {
    let head = token.split('.').next().unwrap();
    let h: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(head).unwrap()).unwrap();
    h["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_jwt_works_on_every_dialect_with_its_owners_rights() {
    let app = TestApp::spawn().await;
    let token = app.jwt_for("admin").await;
    let c = claims_of(&token);
    assert_eq!(c["iss"], app.base.as_str());
    for k in ["sub", "client_id", "scope", "iat", "exp", "jti"] {
        assert!(c.get(k).is_some(), "{k} missing in {c}");
    }
    assert_eq!(
        app.scim(Method::GET, "/Users", &token, None).await.status,
        200
    );
    assert_eq!(
        app.odm(Method::GET, "/Users", &token, None).await.status,
        200
    );
    // An ordinary user's token is an ordinary user's: 403 on the admin list.
    let uid = app.create_user("jay").await;
    let t = app.jwt_for("jay").await;
    assert_eq!(claims_of(&t)["sub"], uid.as_str());
    assert_eq!(app.scim(Method::GET, "/Users", &t, None).await.status, 403);
    assert_eq!(app.scim(Method::GET, "/Me", &t, None).await.status, 200);
}

#[tokio::test]
async fn forged_altered_and_unknown_tokens_are_401_in_each_dialects_format() {
    let app = TestApp::spawn().await;
    let good = app.jwt_for("admin").await;
    let parts: Vec<&str> = good.split('.').collect();
    let c = claims_of(&good);
    let now = chrono::Utc::now().timestamp();
    let claims = Claims {
        iss: app.base.clone(),
        sub: c["sub"].as_str().unwrap().to_owned(),
        client_id: c["client_id"].as_str().unwrap().to_owned(),
        scope: "roster".into(),
        iat: now,
        exp: now + 600,
        jti: "forged".into(),
    };
    // Signed by a key Roster never had, under Roster's own kid and under an unknown one.
    let (foreign, _) = KeyPair::generate(kid_of(&good)).unwrap();
    let (unknown, _) = KeyPair::generate("no-such-kid".into()).unwrap();
    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let hs_header =
        URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{}"}}"#, kid_of(&good)));
    let admin_claims = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap());
    let expired = {
        let (k, der) = KeyPair::generate(kid_of(&good)).unwrap();
        drop(der);
        k.sign(&Claims {
            exp: now - 3600,
            ..claims.clone()
        })
        .unwrap()
    };
    let bad = [
        good[..good.len() - 10].to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{}.{admin_claims}.{}", parts[0], parts[2]),
        foreign.sign(&claims).unwrap(),
        unknown.sign(&claims).unwrap(),
        format!("{none_header}.{admin_claims}."),
        format!("{hs_header}.{admin_claims}.c2lnbmF0dXJl"),
        expired,
        format!("{}.{}.{}", parts[0], parts[1], "A".repeat(3000)),
    ];
    for t in &bad {
        let r = app.scim(Method::GET, "/Users", t, None).await;
        assert_eq!(r.status, 401, "{t}: {}", r.text);
        assert_eq!(
            r.body["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:Error"
        );
        let r = app.odm(Method::GET, "/Users", t, None).await;
        assert_eq!(r.status, 401, "{t}: {}", r.text);
        assert!(r.body["error"]["message"].is_string(), "{}", r.text);
    }
    // The good one still works after all that.
    assert_eq!(
        app.scim(Method::GET, "/Users", &good, None).await.status,
        200
    );
}

#[tokio::test]
async fn deactivation_and_deletion_refuse_an_unexpired_token_on_another_node_at_once() {
    let a = TestApp::spawn().await;
    let b = a.second_node().await;
    let kim = a.create_user("kim").await;
    let lee = a.create_user("lee").await;
    let (tk, tl) = (a.jwt_for("kim").await, a.jwt_for("lee").await);
    // Verified (and remembered) on node b first.
    assert_eq!(b.scim(Method::GET, "/Me", &tk, None).await.status, 200);
    assert_eq!(b.scim(Method::GET, "/Me", &tl, None).await.status, 200);
    let r = a
        .scim_patch(
            &format!("/Users/{kim}"),
            crate::helpers::ADMIN_TOKEN,
            json!([{"op": "replace", "path": "active", "value": false}]),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(b.scim(Method::GET, "/Me", &tk, None).await.status, 401);
    let r = a
        .scim(
            Method::DELETE,
            &format!("/Users/{lee}"),
            crate::helpers::ADMIN_TOKEN,
            None,
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    assert_eq!(b.scim(Method::GET, "/Me", &tl, None).await.status, 401);
    // Reactivated, kim's old token stays void (as API tokens do); a new one works.
    let r = a
        .scim_patch(
            &format!("/Users/{kim}"),
            crate::helpers::ADMIN_TOKEN,
            json!([{"op": "replace", "path": "active", "value": true}]),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(b.scim(Method::GET, "/Me", &tk, None).await.status, 401);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let fresh = a.jwt_for("kim").await;
    assert_eq!(b.scim(Method::GET, "/Me", &fresh, None).await.status, 200);
}

#[tokio::test]
async fn after_a_key_rotation_old_tokens_verify_and_new_ones_carry_the_new_key() {
    let a = TestApp::spawn().await;
    let old = a.jwt_for("admin").await;
    let jwks = a
        .raw(Method::GET, "/.well-known/jwks.json", &[], None)
        .await;
    assert_eq!(jwks.body["keys"].as_array().unwrap().len(), 1);
    let kid = roster_server::tokens::add_signing_key(
        a.store.as_ref(),
        &operator(),
        &test_server_key(),
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    // A node that starts now signs with the new key; the old token still verifies there,
    // and the new token on the node that has not reloaded yet (an unknown kid reloads).
    let b = a.second_node().await;
    let new = b.jwt_for("admin").await;
    assert_eq!(kid_of(&new), kid);
    assert_ne!(kid_of(&old), kid);
    assert_eq!(b.scim(Method::GET, "/Me", &old, None).await.status, 200);
    assert_eq!(a.scim(Method::GET, "/Me", &new, None).await.status, 200);
    let jwks = b
        .raw(Method::GET, "/.well-known/jwks.json", &[], None)
        .await;
    let kids: Vec<&str> = jwks.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&kid.as_str()) && kids.contains(&kid_of(&old).as_str()),
        "{kids:?}"
    );
    for k in jwks.body["keys"].as_array().unwrap() {
        assert_eq!(
            (k["kty"].as_str(), k["crv"].as_str(), k["alg"].as_str()),
            (Some("OKP"), Some("Ed25519"), Some("EdDSA"))
        );
        assert!(k.get("d").is_none(), "a private key in the JWKS: {k}");
    }
    let conf = b
        .raw(Method::GET, "/.well-known/openid-configuration", &[], None)
        .await;
    assert_eq!(
        conf.body["issuer"],
        a.base.as_str(),
        "nodes share the issuer"
    );
    assert_eq!(
        conf.body["token_endpoint"],
        format!("{}/oauth/token", b.base)
    );
    assert_eq!(
        conf.body["jwks_uri"],
        format!("{}/.well-known/jwks.json", b.base)
    );
}
