//! What the inbound endpoint serves and how it describes itself (RFC 7643
//! §§4, 5, 6, 8.7): the User (with the enterprise extension) and Group
//! schemas, the resource types and the service provider configuration.
//! The schemas list what hrsync reads into employees; other attributes an
//! identity provider sends are kept and returned, but not described.

use std::sync::LazyLock;

use serde_json::{json, Value};

pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const ENTERPRISE_USER: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
pub const BULK_REQUEST: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Largest number of operations in one `/Bulk` request, and its largest
/// body.
pub const BULK_MAX_OPERATIONS: usize = 1000;
pub const BULK_MAX_PAYLOAD: usize = 1 << 20;
/// Largest page of a list.
pub const MAX_RESULTS: usize = 1000;

/// The two kinds of resource, as URLs and `meta.resourceType` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    User,
    Group,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::User => "User",
            Kind::Group => "Group",
        }
    }

    /// `Users` or `Groups`.
    pub fn endpoint(self) -> &'static str {
        match self {
            Kind::User => "Users",
            Kind::Group => "Groups",
        }
    }

    pub fn schema(self) -> &'static str {
        match self {
            Kind::User => CORE_USER,
            Kind::Group => CORE_GROUP,
        }
    }

    /// Attributes the server sets; a client's values for them are ignored.
    pub fn read_only(self) -> &'static [&'static str] {
        match self {
            Kind::User => &["id", "meta", "groups"],
            Kind::Group => &["id", "meta"],
        }
    }
}

/// Attributes whose values compare case-exactly: ids and references.
pub fn is_case_exact(names: &[String]) -> bool {
    match names {
        [one] => one.eq_ignore_ascii_case("id") || one.eq_ignore_ascii_case("externalId"),
        [parent, sub] => {
            (sub.eq_ignore_ascii_case("value") || sub.eq_ignore_ascii_case("$ref"))
                && ["members", "groups", "manager"]
                    .iter()
                    .any(|p| parent.eq_ignore_ascii_case(p))
        }
        _ => false,
    }
}

/// One attribute definition.
struct Attr {
    name: &'static str,
    kind: &'static str,
    multi: bool,
    required: bool,
    mutability: &'static str,
    returned: &'static str,
    uniqueness: &'static str,
    case_exact: bool,
    sub: Vec<Attr>,
    description: &'static str,
}

fn text(name: &'static str, description: &'static str) -> Attr {
    Attr {
        name,
        kind: "string",
        multi: false,
        required: false,
        mutability: "readWrite",
        returned: "default",
        uniqueness: "none",
        case_exact: false,
        sub: Vec::new(),
        description,
    }
}

impl Attr {
    fn typed(mut self, kind: &'static str) -> Self {
        self.kind = kind;
        self
    }
    fn complex(mut self, sub: Vec<Attr>) -> Self {
        self.kind = "complex";
        self.sub = sub;
        self
    }
    fn multi(mut self) -> Self {
        self.multi = true;
        self
    }
    fn required(mut self) -> Self {
        self.required = true;
        self
    }
    fn read_only(mut self) -> Self {
        self.mutability = "readOnly";
        self
    }
    fn immutable(mut self) -> Self {
        self.mutability = "immutable";
        self
    }
    fn exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    fn unique(mut self, uniqueness: &'static str) -> Self {
        self.uniqueness = uniqueness;
        self
    }

    fn to_json(&self) -> Value {
        let mut value = json!({
            "name": self.name,
            "type": self.kind,
            "multiValued": self.multi,
            "description": self.description,
            "required": self.required,
            "caseExact": self.case_exact,
            "mutability": self.mutability,
            "returned": self.returned,
            "uniqueness": self.uniqueness,
        });
        if !self.sub.is_empty() {
            value["subAttributes"] = self.sub.iter().map(Attr::to_json).collect();
        }
        if self.kind == "reference" {
            value["referenceTypes"] = json!(["User", "Group"]);
        }
        value
    }
}

/// `value`, `type`, `primary` of a multi-valued attribute like `emails`.
fn typed_values(value_kind: &'static str, what: &'static str) -> Vec<Attr> {
    vec![
        text("value", what).typed(value_kind),
        text("display", "A human-readable name"),
        text("type", "A label: work, home, other"),
        text("primary", "The primary value").typed("boolean"),
    ]
}

fn user_attributes() -> Vec<Attr> {
    vec![
        text(
            "userName",
            "Unique identifier of the user, often an e-mail address; hrsync's fallback e-mail",
        )
        .required()
        .unique("server"),
        text("name", "The components of the user's name").complex(vec![
            text("formatted", "The full name"),
            text("familyName", "Last name"),
            text("givenName", "First name"),
            text("middleName", "Middle name"),
            text("honorificPrefix", "Title before the name"),
            text("honorificSuffix", "Title after the name"),
        ]),
        text("displayName", "The name shown"),
        text("nickName", "The casual name; hrsync's preferred name"),
        text("title", "Job title"),
        text("userType", "e.g. Employee, Contractor; hrsync's employment type"),
        text("preferredLanguage", "e.g. de-DE; hrsync's language"),
        text("locale", "e.g. de-DE"),
        text("timezone", "e.g. Europe/Berlin"),
        text(
            "active",
            "Whether the user is active; false deactivates the accounts hrsync made",
        )
        .typed("boolean"),
        text(
            "emails",
            "E-mail addresses; the primary (or work) one is hrsync's e-mail",
        )
        .multi()
        .complex(typed_values("string", "An e-mail address")),
        text("phoneNumbers", "Phone numbers")
            .multi()
            .complex(typed_values("string", "A phone number")),
        text("addresses", "Addresses; the work address's locality is hrsync's office")
            .multi()
            .complex(vec![
                text("formatted", "The full address"),
                text("streetAddress", "Street"),
                text("locality", "City"),
                text("region", "Region"),
                text("postalCode", "Postal code"),
                text("country", "Country"),
                text("type", "work, home, other"),
                text("primary", "The primary address").typed("boolean"),
            ]),
        text("groups", "The groups the user is a member of")
            .multi()
            .read_only()
            .complex(vec![
                text("value", "The group's id").read_only().exact(),
                text("$ref", "The group's URI").typed("reference").read_only().exact(),
                text("display", "The group's name").read_only(),
                text("type", "direct").read_only(),
            ]),
    ]
}

fn enterprise_attributes() -> Vec<Attr> {
    vec![
        text("employeeNumber", "The HR system's number of the employee"),
        text("costCenter", "Cost center"),
        text("organization", "Organization"),
        text("division", "Division; hrsync's team"),
        text("department", "Department"),
        text("manager", "The user's manager").complex(vec![
            text("value", "The manager's id at this endpoint").exact(),
            text("$ref", "The manager's URI").typed("reference").exact(),
            text("displayName", "The manager's name").read_only(),
        ]),
    ]
}

fn group_attributes() -> Vec<Attr> {
    vec![
        text("displayName", "The group's name").required(),
        text("members", "The group's members").multi().complex(vec![
            text("value", "The member's id").immutable().exact(),
            text("$ref", "The member's URI").typed("reference").immutable().exact(),
            text("display", "The member's name").read_only(),
            text("type", "User or Group").immutable(),
        ]),
    ]
}

fn schema(id: &str, name: &str, description: &str, attributes: &[Attr], location: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Schema"],
        "id": id,
        "name": name,
        "description": description,
        "attributes": attributes.iter().map(Attr::to_json).collect::<Vec<_>>(),
        "meta": {"resourceType": "Schema", "location": format!("{location}/Schemas/{id}")},
    })
}

/// The schemas, for `/Schemas`; `base` is the endpoint's URL.
pub fn schemas(base: &str) -> Vec<Value> {
    vec![
        schema(CORE_USER, "User", "User Account", &USER, base),
        schema(ENTERPRISE_USER, "EnterpriseUser", "Enterprise User", &ENTERPRISE, base),
        schema(CORE_GROUP, "Group", "Group", &GROUP, base),
    ]
}

pub fn resource_types(base: &str) -> Vec<Value> {
    vec![
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "User", "name": "User", "endpoint": "/Users", "description": "User Account",
            "schema": CORE_USER,
            "schemaExtensions": [{"schema": ENTERPRISE_USER, "required": false}],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/User")},
        }),
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ResourceType"],
            "id": "Group", "name": "Group", "endpoint": "/Groups", "description": "Group",
            "schema": CORE_GROUP,
            "schemaExtensions": [],
            "meta": {"resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/Group")},
        }),
    ]
}

pub fn service_provider_config(base: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "documentationUri": "https://github.com/hrsync/hrsync/blob/main/docs/inbound-scim.md",
        "patch": {"supported": true},
        "bulk": {"supported": true, "maxOperations": BULK_MAX_OPERATIONS, "maxPayloadSize": BULK_MAX_PAYLOAD},
        "filter": {"supported": true, "maxResults": MAX_RESULTS},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": true},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "Bearer token",
            "description": "The integration's SCIM token (POST /api/v1/integrations/{id}/scim-token)",
            "primary": true,
        }],
        "meta": {"resourceType": "ServiceProviderConfig", "location": format!("{base}/ServiceProviderConfig")},
    })
}

/// The attribute tables, built once.
static USER: LazyLock<Vec<Attr>> = LazyLock::new(user_attributes);
static ENTERPRISE: LazyLock<Vec<Attr>> = LazyLock::new(enterprise_attributes);
static GROUP: LazyLock<Vec<Attr>> = LazyLock::new(group_attributes);

fn core(kind: Kind) -> &'static [Attr] {
    match kind {
        Kind::User => &USER,
        Kind::Group => &GROUP,
    }
}

/// The canonical spelling of a known attribute (`USERNAME` → `userName`),
/// so that stored resources use one; unknown names are kept as sent.
pub fn canonical_name(kind: Kind, extension: Option<&str>, name: &str) -> Option<&'static str> {
    let attributes: &[Attr] = match (kind, extension) {
        (_, None) => core(kind),
        (Kind::User, Some(urn)) if urn.eq_ignore_ascii_case(ENTERPRISE_USER) => &ENTERPRISE,
        _ => return None,
    };
    let common = ["id", "externalId", "meta", "schemas"];
    (common.into_iter())
        .chain(attributes.iter().map(|a| a.name))
        .find(|known| known.eq_ignore_ascii_case(name))
}

/// Whether a core attribute is multi-valued.
pub fn is_multi_valued(kind: Kind, name: &str) -> bool {
    core(kind).iter().any(|a| a.multi && a.name.eq_ignore_ascii_case(name))
}

/// The sub-attributes' canonical names of a core or enterprise attribute.
pub fn canonical_sub_name(kind: Kind, extension: Option<&str>, parent: &str, name: &str) -> Option<&'static str> {
    let attributes: &[Attr] = match (kind, extension) {
        (_, None) => core(kind),
        (Kind::User, Some(urn)) if urn.eq_ignore_ascii_case(ENTERPRISE_USER) => &ENTERPRISE,
        _ => return None,
    };
    let parent = attributes.iter().find(|a| a.name.eq_ignore_ascii_case(parent))?;
    parent
        .sub
        .iter()
        .map(|a| a.name)
        .find(|known| known.eq_ignore_ascii_case(name))
}
