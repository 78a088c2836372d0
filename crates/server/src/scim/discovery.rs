//! Discovery (RFC 7644 §4, RFC 7643 §5–7): what this service provider supports, stated so
//! that nothing is claimed that does not work. Served without authentication, as clients
//! read it before they have been configured.

use axum::http::StatusCode;
use axum::response::Response;
use roster_core::paging::MAX_PAGE_SIZE;
use roster_core::schema::{ENTERPRISE_SCHEMA, GROUP_SCHEMA, ROSTER_GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{json, Value};

use super::ROOT;
use crate::http::extract::{BaseUrl, PathParam};
use crate::http::{Answer, ApiError, Kind};
use crate::scim_resource::{respond, Links, LIST_URN};

const SPC_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const SCHEMA_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
const RT_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";

/// One attribute definition; `sub` holds sub-attributes of a complex attribute.
#[allow(clippy::too_many_arguments)]
fn attr(
    name: &str,
    ty: &str,
    multi: bool,
    required: bool,
    case_exact: bool,
    mutability: &str,
    returned: &str,
    uniqueness: &str,
    desc: &str,
    sub: Vec<Value>,
) -> Value {
    let mut a = json!({
        "name": name, "type": ty, "multiValued": multi, "description": desc, "required": required,
        "caseExact": case_exact, "mutability": mutability, "returned": returned, "uniqueness": uniqueness,
    });
    if ty == "complex" {
        a["subAttributes"] = Value::Array(sub);
    }
    a
}

fn string(name: &str, desc: &str) -> Value {
    attr(
        name,
        "string",
        false,
        false,
        false,
        "readWrite",
        "default",
        "none",
        desc,
        vec![],
    )
}

fn canonical(mut a: Value, values: &[&str]) -> Value {
    a["canonicalValues"] = json!(values);
    a
}

fn boolean(name: &str, desc: &str) -> Value {
    attr(
        name,
        "boolean",
        false,
        false,
        false,
        "readWrite",
        "default",
        "none",
        desc,
        vec![],
    )
}

/// A multi-valued complex attribute with the usual value/display/type/primary.
fn multi(name: &str, desc: &str, types: &[&str], extra: Vec<Value>) -> Value {
    let mut sub = vec![
        string("value", "The value."),
        string("display", "A human-readable name."),
        if types.is_empty() {
            string("type", "A label indicating the value's function.")
        } else {
            canonical(
                string("type", "A label indicating the value's function."),
                types,
            )
        },
        boolean("primary", "The preferred value; at most one is primary."),
    ];
    sub.extend(extra);
    attr(
        name,
        "complex",
        true,
        false,
        false,
        "readWrite",
        "default",
        "none",
        desc,
        sub,
    )
}

fn user_schema() -> Value {
    let mut profile_url = string("profileUrl", "A URI of the user's online profile.");
    profile_url["type"] = json!("reference");
    profile_url["referenceTypes"] = json!(["external"]);
    profile_url["caseExact"] = json!(true);
    json!({
        "id": USER_SCHEMA, "name": "User", "description": "User Account",
        "attributes": [
            attr("userName", "string", false, true, false, "readWrite", "default", "server",
                 "Unique identifier for the User, used to sign in; compared case-insensitively.", vec![]),
            attr("name", "complex", false, false, false, "readWrite", "default", "none", "The components of the user's name.", vec![
                string("formatted", "The full name."), string("familyName", "Family name."), string("givenName", "Given name."),
                string("middleName", "Middle name."), string("honorificPrefix", "Honorific prefix."),
                string("honorificSuffix", "Honorific suffix."),
            ]),
            string("displayName", "The name of the User, suitable for display."),
            string("nickName", "The casual way to address the user."),
            profile_url,
            string("title", "The user's title."),
            string("userType", "The relationship between the organization and the user."),
            string("preferredLanguage", "Preferred written or spoken language."),
            string("locale", "Default location of the User, e.g. en-US."),
            string("timezone", "Time zone in IANA format, e.g. Europe/Berlin."),
            boolean("active", "Whether the user may sign in."),
            attr("password", "string", false, false, false, "writeOnly", "never", "none", "The user's password; stored as argon2id, never returned.", vec![]),
            multi("emails", "Email addresses.", &["work", "home", "other"], vec![]),
            multi("phoneNumbers", "Phone numbers.", &["work", "home", "mobile", "fax", "pager", "other"], vec![]),
            multi("ims", "Instant messaging addresses.", &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"], vec![]),
            multi("photos", "URLs of photos of the user.", &["photo", "thumbnail"], vec![]),
            attr("addresses", "complex", true, false, false, "readWrite", "default", "none", "Physical mailing addresses.", vec![
                string("formatted", "The full mailing address."), string("streetAddress", "Street address."),
                string("locality", "City or locality."), string("region", "State or region."),
                string("postalCode", "Zip code or postal code."), string("country", "Country (ISO 3166-1 alpha-2)."),
                canonical(string("type", "A label indicating the address's function."), &["work", "home", "other"]),
                boolean("primary", "The preferred address; at most one is primary."),
            ]),
            multi("entitlements", "Entitlements of the user.", &[], vec![]),
            multi("roles", "Roles of the user.", &[], vec![]),
            multi("x509Certificates", "X.509 certificates (DER, base64).", &[], vec![]),
            ro("groups", "complex", true, "The groups the user is a member of; change them through the Group's members.", vec![
                ro("value", "string", false, "The group's id.", vec![]),
                {
                    let mut r = ro("$ref", "reference", false, "URI of the group.", vec![]);
                    r["referenceTypes"] = json!(["Group"]);
                    r
                },
                ro("display", "string", false, "The group's displayName.", vec![]),
                canonical(ro("type", "string", false, "How the user is a member: always direct (groups do not nest).", vec![]), &["direct", "indirect"]),
            ]),
        ],
    })
}

fn enterprise_schema() -> Value {
    json!({
        "id": ENTERPRISE_SCHEMA, "name": "EnterpriseUser", "description": "Enterprise User",
        "attributes": [
            attr("employeeNumber", "string", false, false, true, "readWrite", "default", "none", "Organization-assigned employee number.", vec![]),
            string("costCenter", "Name of a cost center."),
            string("organization", "Name of an organization."),
            string("division", "Name of a division."),
            string("department", "Name of a department."),
            attr("manager", "complex", false, false, false, "readWrite", "default", "none", "The user's manager.", vec![
                attr("value", "string", false, false, true, "readWrite", "default", "none", "The manager's user id.", vec![]),
                {
                    let mut r = attr("$ref", "reference", false, false, true, "readWrite", "default", "none", "URI of the manager.", vec![]);
                    r["referenceTypes"] = json!(["User"]);
                    r
                },
            ]),
        ],
    })
}

fn group_schema() -> Value {
    json!({
        "id": GROUP_SCHEMA, "name": "Group", "description": "Group",
        "attributes": [
            attr("displayName", "string", false, true, false, "readWrite", "default", "none", "A human-readable name; not unique.", vec![]),
            attr("members", "complex", true, false, false, "readWrite", "default", "none", "Members of the group (users).", vec![
                attr("value", "string", false, true, true, "immutable", "default", "none", "The member's id.", vec![]),
                {
                    let mut r = attr("$ref", "reference", false, false, true, "immutable", "default", "none", "URI of the member.", vec![]);
                    r["referenceTypes"] = json!(["User"]);
                    r
                },
                canonical(attr("type", "string", false, false, false, "immutable", "default", "none", "The kind of member.", vec![]), &["User"]),
            ]),
        ],
    })
}

fn roster_group_schema() -> Value {
    json!({
        "id": ROSTER_GROUP_SCHEMA, "name": "RosterGroup", "description": "Roster's group extension",
        "attributes": [
            attr("slug", "string", false, false, true, "readOnly", "default", "server", "The organization's slug when the group is one (`roster org`): what CVAT clients name it by.", vec![]),
        ],
    })
}

fn ro(name: &str, ty: &str, multi: bool, desc: &str, sub: Vec<Value>) -> Value {
    attr(
        name, ty, multi, false, false, "readOnly", "default", "none", desc, sub,
    )
}

fn supported(name: &str, desc: &str, extra: Vec<Value>) -> Value {
    let mut sub = vec![ro(
        "supported",
        "boolean",
        false,
        "Whether the feature is supported.",
        vec![],
    )];
    sub.extend(extra);
    ro(name, "complex", false, desc, sub)
}

/// RFC 7643 §8.7.2: the schemas of the discovery resources themselves.
fn meta_schemas() -> [Value; 3] {
    [
        json!({
            "id": SPC_URN, "name": "ServiceProviderConfig", "description": "Schema for representing the service provider's configuration",
            "attributes": [
                ro("documentationUri", "reference", false, "An HTTP-addressable URL pointing to the service provider's help documentation.", vec![]),
                supported("patch", "PATCH support.", vec![]),
                supported("bulk", "Bulk support.", vec![
                    ro("maxOperations", "integer", false, "Most operations in one bulk request.", vec![]),
                    ro("maxPayloadSize", "integer", false, "Largest bulk payload in bytes.", vec![]),
                ]),
                supported("filter", "Filter support.", vec![ro("maxResults", "integer", false, "Most resources one response returns.", vec![])]),
                supported("changePassword", "Password change support.", vec![]),
                supported("sort", "Sorting support.", vec![]),
                supported("etag", "ETag support.", vec![]),
                ro("authenticationSchemes", "complex", true, "Supported authentication schemes.", vec![
                    ro("name", "string", false, "The common authentication scheme name.", vec![]),
                    ro("description", "string", false, "A description of the scheme.", vec![]),
                    ro("specUri", "reference", false, "The scheme's specification.", vec![]),
                    ro("documentationUri", "reference", false, "The scheme's documentation.", vec![]),
                    ro("type", "string", false, "The scheme's type.", vec![]),
                    ro("primary", "boolean", false, "The preferred scheme.", vec![]),
                ]),
            ],
        }),
        json!({
            "id": RT_URN, "name": "ResourceType", "description": "Specifies the schema that describes a SCIM resource type",
            "attributes": [
                ro("id", "string", false, "The resource type's server unique id.", vec![]),
                ro("name", "string", false, "The resource type name.", vec![]),
                ro("description", "string", false, "The resource type's description.", vec![]),
                ro("endpoint", "reference", false, "The resource type's HTTP-addressable endpoint.", vec![]),
                ro("schema", "reference", false, "The resource type's primary schema URI.", vec![]),
                ro("schemaExtensions", "complex", true, "Schema extensions of the resource type.", vec![
                    ro("schema", "reference", false, "The URI of an extension schema.", vec![]),
                    ro("required", "boolean", false, "Whether resources must include the extension.", vec![]),
                ]),
            ],
        }),
        json!({
            "id": SCHEMA_URN, "name": "Schema", "description": "Specifies the schema attribute definitions",
            "attributes": [
                ro("id", "string", false, "The unique URI of the schema.", vec![]),
                ro("name", "string", false, "The schema's human-readable name.", vec![]),
                ro("description", "string", false, "The schema's description.", vec![]),
                ro("attributes", "complex", true, "The schema's attributes.", vec![
                    ro("name", "string", false, "The attribute's name.", vec![]),
                    ro("type", "string", false, "The attribute's data type.", vec![]),
                    ro("multiValued", "boolean", false, "Whether the attribute is multi-valued.", vec![]),
                    ro("description", "string", false, "The attribute's description.", vec![]),
                    ro("required", "boolean", false, "Whether the attribute is required.", vec![]),
                    ro("canonicalValues", "string", true, "Suggested values.", vec![]),
                    ro("caseExact", "boolean", false, "Whether comparisons are case-sensitive.", vec![]),
                    ro("mutability", "string", false, "How the attribute may be changed.", vec![]),
                    ro("returned", "string", false, "When the attribute is returned.", vec![]),
                    ro("uniqueness", "string", false, "How the attribute's values must be unique.", vec![]),
                    ro("referenceTypes", "string", true, "What a reference may point to.", vec![]),
                    ro("subAttributes", "complex", true, "Sub-attributes of a complex attribute (same shape).", vec![]),
                ]),
            ],
        }),
    ]
}

fn with_meta(mut v: Value, resource_type: &str, location: String) -> Value {
    v["schemas"] = json!([if resource_type == "Schema" {
        SCHEMA_URN
    } else {
        RT_URN
    }]);
    v["meta"] = json!({"resourceType": resource_type, "location": location});
    v
}

fn schemas(base: &BaseUrl) -> Vec<Value> {
    let root = Links::new(&base.0, ROOT).root;
    [
        user_schema(),
        enterprise_schema(),
        group_schema(),
        roster_group_schema(),
    ]
    .into_iter()
    .chain(meta_schemas())
    .map(|s| {
        let loc = format!("{root}/Schemas/{}", s["id"].as_str().unwrap_or_default());
        with_meta(s, "Schema", loc)
    })
    .collect()
}

fn resource_types(base: &BaseUrl) -> Vec<Value> {
    let root = Links::new(&base.0, ROOT).root;
    [("User", "/Users", USER_SCHEMA, "User Account"), ("Group", "/Groups", GROUP_SCHEMA, "Group")]
        .into_iter()
        .map(|(name, endpoint, schema, desc)| {
            // Roster's Group extension is in /Schemas but not listed here: it holds one read-only
            // attribute (`roster org` sets it), and generic SCIM clients and test suites write to
            // every extension a resource type lists.
            let ext = if name == "User" { json!([{"schema": ENTERPRISE_SCHEMA, "required": false}]) } else { json!([]) };
            let v = json!({"id": name, "name": name, "endpoint": endpoint, "description": desc, "schema": schema, "schemaExtensions": ext});
            with_meta(v, "ResourceType", format!("{root}/ResourceTypes/{name}"))
        })
        .collect()
}

/// The item whose `key` is `wanted` (case-insensitively), or 404.
fn named(items: Vec<Value>, key: &str, wanted: &str, what: &str) -> Answer {
    items
        .into_iter()
        .find(|v| {
            v[key]
                .as_str()
                .is_some_and(|k| k.eq_ignore_ascii_case(wanted))
        })
        .map(|v| respond(StatusCode::OK, v, None, None))
        .ok_or_else(|| ApiError::new(Kind::NotFound, format!("no {what} {wanted:?}")))
}

fn list(items: Vec<Value>) -> Response {
    let n = items.len();
    respond(
        StatusCode::OK,
        json!({"schemas": [LIST_URN], "totalResults": n, "startIndex": 1, "itemsPerPage": n, "Resources": items}),
        None,
        None,
    )
}

#[utoipa::path(get, path = "/ServiceProviderConfig", security(()),
    description = "What this service provider supports (RFC 7644 §4); no authentication.",
    responses((status = 200, description = "The ServiceProviderConfig", content_type = "application/scim+json", body = serde_json::Value)))]
pub async fn service_provider_config(base: BaseUrl) -> Response {
    let root = Links::new(&base.0, ROOT).root;
    respond(
        StatusCode::OK,
        json!({
            "schemas": [SPC_URN],
            // The server's own API description: a document every deployment has.
            "documentationUri": format!("{}/openapi.json", base.0),
            "patch": {"supported": true},
            "bulk": {"supported": true, "maxOperations": super::bulk::MAX_OPERATIONS, "maxPayloadSize": super::bulk::MAX_PAYLOAD_SIZE},
            "filter": {"supported": true, "maxResults": MAX_PAGE_SIZE},
            "changePassword": {"supported": true},
            "sort": {"supported": true},
            "etag": {"supported": true},
            "authenticationSchemes": [{
                "type": "oauthbearertoken", "name": "API token",
                "description": "Authorization: Bearer <token>; tokens are issued with `roster token issue`.",
                "primary": true,
            }],
            "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{root}/ServiceProviderConfig")},
        }),
        None,
        None,
    )
}

#[utoipa::path(get, path = "/Schemas", security(()),
    description = "Every schema Roster publishes (RFC 7643 §7); no authentication.",
    responses((status = 200, description = "A ListResponse of Schemas", content_type = "application/scim+json", body = serde_json::Value)))]
pub async fn list_schemas(base: BaseUrl) -> Response {
    list(schemas(&base))
}

#[utoipa::path(get, path = "/Schemas/{id}", security(()),
    description = "One schema by its URN.",
    params(("id" = String, Path, description = "The schema URN")),
    responses((status = 200, description = "The Schema", content_type = "application/scim+json", body = serde_json::Value)))]
pub async fn get_schema(base: BaseUrl, PathParam(id): PathParam) -> Answer {
    named(schemas(&base), "id", &id, "schema")
}

#[utoipa::path(get, path = "/ResourceTypes", security(()),
    description = "User and Group (RFC 7643 §6); no authentication.",
    responses((status = 200, description = "A ListResponse of ResourceTypes", content_type = "application/scim+json", body = serde_json::Value)))]
pub async fn list_resource_types(base: BaseUrl) -> Response {
    list(resource_types(&base))
}

#[utoipa::path(get, path = "/ResourceTypes/{name}", security(()),
    description = "One resource type by name.",
    params(("name" = String, Path, description = "User or Group")),
    responses((status = 200, description = "The ResourceType", content_type = "application/scim+json", body = serde_json::Value)))]
pub async fn get_resource_type(base: BaseUrl, PathParam(name): PathParam) -> Answer {
    named(resource_types(&base), "name", &name, "resource type")
}
