//! Recipes: the integration files of examples/ — the seed products'
//! defaults — offered by the API. `GET /recipes` lists them part by part;
//! `POST /recipes/{name}` makes one in a step: the source, rule and target
//! installations (the recipe's config, with the admin's secrets and
//! overrides) and the integration with the recipe's options, inactive, to
//! be tested (`POST …/preview`, `…/sync` with `dry_run`) and activated.
//! Each part is made through the same handler as its own route, so the
//! checks, quotas and audit are those of `POST /installations` and
//! `POST /integrations`.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Principal;
use super::error::{ApiError, ErrorBody};
use super::integrations::{create_integration, CreatedIntegration, IntegrationConfig};
use super::plugins::{install, newest_version, NewInstallation};
use super::{AppState, Json, Path};
use hrsync_store::tenants::Role;

/// The recipes as shipped in examples/ (tested by tests/recipes.rs): name,
/// the seed document it follows, the file.
const RECIPES: &[(&str, &str, &str)] = &[
    (
        "personio-to-perks",
        "000–002",
        include_str!("../../../../examples/personio-to-perks.toml"),
    ),
    (
        "entra-to-perks",
        "000–002",
        include_str!("../../../../examples/entra-to-perks.toml"),
    ),
    (
        "bamboohr-to-perks",
        "000–002",
        include_str!("../../../../examples/bamboohr-to-perks.toml"),
    ),
    (
        "personio-to-learning-app",
        "003",
        include_str!("../../../../examples/personio-to-learning-app.toml"),
    ),
    (
        "personio-to-leapsome",
        "004",
        include_str!("../../../../examples/personio-to-leapsome.toml"),
    ),
];

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_recipes))
        .routes(routes!(use_recipe))
}

/// One installation of a recipe.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecipePart {
    /// The plugin's name in the catalog.
    pub plugin: String,
    #[schema(value_type = Object)]
    pub config: Value,
    pub allowed_hosts: Vec<String>,
    /// The secrets it needs, by name (their values are the admin's).
    pub secrets: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recipe {
    pub name: String,
    /// The seed document it follows.
    pub seed: String,
    /// What it does, from the file's head.
    pub description: String,
    pub source: RecipePart,
    pub rules: Vec<RecipePart>,
    pub target: RecipePart,
    /// The integration's options.
    #[schema(value_type = Object)]
    pub options: Value,
}

fn part(table: Option<&toml::Value>) -> Result<RecipePart, String> {
    let table = table.and_then(toml::Value::as_table).ok_or("a part is a table")?;
    let plugin = table
        .get("plugin")
        .and_then(toml::Value::as_str)
        .and_then(|path| std::path::Path::new(path).file_stem()?.to_str())
        .ok_or("a part names its plugin file")?
        .replace('_', "-");
    let json = |key: &str| {
        table
            .get(key)
            .map(|v| serde_json::to_value(v).map_err(|e| e.to_string()))
            .transpose()
    };
    Ok(RecipePart {
        plugin,
        config: json("config")?.unwrap_or_else(|| Value::Object(Map::new())),
        allowed_hosts: serde_json::from_value(json("allowed_hosts")?.unwrap_or_else(|| Value::Array(Vec::new())))
            .map_err(|e| e.to_string())?,
        secrets: table
            .get("secrets")
            .and_then(toml::Value::as_table)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default(),
    })
}

/// A recipe file as the API shows it.
fn recipe((name, seed, text): &(&str, &str, &str)) -> Result<Recipe, String> {
    let file: toml::Value = toml::from_str(text).map_err(|e| e.to_string())?;
    let description = text
        .lines()
        .take_while(|line| line.starts_with('#') && line.trim() != "#")
        .map(|line| line.trim_start_matches('#').trim())
        .collect::<Vec<_>>()
        .join(" ");
    let rules = file
        .get("rules")
        .and_then(toml::Value::as_array)
        .map(|rules| rules.iter().map(|r| part(Some(r))).collect::<Result<Vec<_>, _>>())
        .transpose()?
        .unwrap_or_default();
    Ok(Recipe {
        name: name.to_string(),
        seed: seed.to_string(),
        description,
        source: part(file.get("source"))?,
        rules,
        target: part(file.get("target"))?,
        options: file
            .get("options")
            .map(|o| serde_json::to_value(o).map_err(|e| e.to_string()))
            .transpose()?
            .unwrap_or_else(|| Value::Object(Map::new())),
    })
}

/// The recipes, read once (the unit test below reads every one).
fn recipes() -> Result<&'static [Recipe], ApiError> {
    static READ: std::sync::LazyLock<Result<Vec<Recipe>, String>> = std::sync::LazyLock::new(|| {
        RECIPES
            .iter()
            .map(|r| recipe(r).map_err(|e| format!("recipe {}: {e}", r.0)))
            .collect()
    });
    READ.as_deref().map_err(|e| ApiError::Internal(e.clone()))
}

/// The recipes: the seed products' defaults, part by part.
#[utoipa::path(get, path = "/recipes", tag = "integrations", security(("api_key" = [])),
    responses((status = 200, body = Vec<Recipe>), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn list_recipes(_who: Principal) -> Result<Json<Vec<Recipe>>, ApiError> {
    Ok(Json(recipes()?.to_vec()))
}

/// What the admin adds to a source or target of a recipe.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartInput {
    /// Secret name → value (write-only).
    #[serde(default)]
    pub secrets: BTreeMap<String, String>,
    /// Config keys that replace the recipe's (e.g. `base_url`).
    #[serde(default)]
    #[schema(value_type = Object)]
    pub config: Map<String, Value>,
    /// Replaces the recipe's origins when given (the app's own host).
    #[serde(default)]
    pub allowed_hosts: Option<Vec<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UseRecipe {
    /// The integration's name; its installations are named after it.
    pub name: String,
    #[serde(default)]
    pub source: PartInput,
    #[serde(default)]
    pub target: PartInput,
    /// Options that replace the recipe's, key by key.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub options: Map<String, Value>,
}

fn with_overrides(part: &RecipePart, input: PartInput, name: String) -> NewInstallation {
    let mut config = part.config.clone();
    if let Value::Object(fields) = &mut config {
        fields.extend(input.config);
    }
    NewInstallation {
        name,
        plugin: part.plugin.clone(),
        version: None,
        config,
        secrets: input.secrets,
        allowed_hosts: input.allowed_hosts.unwrap_or_else(|| part.allowed_hosts.clone()),
    }
}

/// A refused part's error, its field prefixed with the part (`target.secrets`)
/// and the parts made before it named.
fn in_part(part: &str, made: &[String], error: ApiError) -> ApiError {
    let so_far = if made.is_empty() {
        String::new()
    } else {
        format!(" (made before it, and kept: {})", made.join(", "))
    };
    match error {
        ApiError::Invalid { field, message } => ApiError::Invalid {
            field: Some(match field {
                Some(field) => format!("{part}.{field}"),
                None => part.to_string(),
            }),
            message: format!("{message}{so_far}"),
        },
        ApiError::Conflict { field, message } => ApiError::Conflict {
            field: field.map(|f| format!("{part}.{f}")),
            message: format!("{message}{so_far}"),
        },
        other => other,
    }
}

/// Installs one part through `POST /installations`' handler; its id. The
/// name of what was made joins `made`.
async fn install_part(
    state: &AppState,
    who: &Principal,
    part: &str,
    new: NewInstallation,
    made: &mut Vec<String>,
) -> Result<String, ApiError> {
    let (_, Json(installation)) = install(State(state.clone()), who.clone(), Json(new))
        .await
        .map_err(|e| in_part(part, made, e))?;
    made.push(installation.name);
    Ok(installation.id)
}

/// Makes an integration from a recipe in one step (admins): its source,
/// rule and target installations and the integration, inactive. A part
/// refused (a secret missing, a config the plugin's schema refuses) is
/// named by its field, prefixed with the part (`target.secrets`, ...);
/// the parts made before it stay, listed in the message.
#[utoipa::path(post, path = "/recipes/{name}", tag = "integrations", request_body = UseRecipe,
    security(("api_key" = [])), params(("name" = String, Path, description = "A recipe's name, from GET /recipes")),
    responses((status = 201, body = CreatedIntegration), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody),
              (status = 429, body = ErrorBody)))]
pub(crate) async fn use_recipe(
    State(state): State<AppState>,
    who: Principal,
    Path(name): Path<String>,
    Json(request): Json<UseRecipe>,
) -> Result<(StatusCode, Json<CreatedIntegration>), ApiError> {
    who.require(Role::Admin)?;
    super::tenants::check_name("name", &request.name)?;
    let recipe = recipes()?
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| ApiError::not_found("recipe", &name))?;
    // Every plugin is in the catalog before anything is made.
    for part in std::iter::once(&recipe.source)
        .chain(&recipe.rules)
        .chain(std::iter::once(&recipe.target))
    {
        newest_version(&state, &who.tenant, &part.plugin).await?;
    }
    let mut made: Vec<String> = Vec::new();
    let source = install_part(
        &state,
        &who,
        "source",
        with_overrides(&recipe.source, request.source, format!("{} (HR)", request.name)),
        &mut made,
    )
    .await?;
    let mut rules = Vec::with_capacity(recipe.rules.len());
    for (i, rule) in recipe.rules.iter().enumerate() {
        let new = with_overrides(
            rule,
            PartInput::default(),
            format!("{} ({} {})", request.name, rule.plugin, i + 1),
        );
        rules.push(install_part(&state, &who, &format!("rules[{i}]"), new, &mut made).await?);
    }
    let target = install_part(
        &state,
        &who,
        "target",
        with_overrides(&recipe.target, request.target, format!("{} (app)", request.name)),
        &mut made,
    )
    .await?;
    let mut options = recipe.options.clone();
    if let Value::Object(fields) = &mut options {
        fields.extend(request.options);
    }
    let options = serde_json::from_value(options).map_err(|e| {
        let error = ApiError::Invalid {
            field: None,
            message: e.to_string(),
        };
        in_part("options", &made, error)
    })?;
    let config = IntegrationConfig {
        name: request.name,
        source,
        rules,
        target,
        options,
        schedule: super::integrations::default_schedule(),
        timezone: super::integrations::default_timezone(),
        notify: Default::default(),
    };
    create_integration(State(state), who, Json(config))
        .await
        .map_err(|e| in_part("integration", &made, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_recipe_reads_with_its_plugins_options_and_secret_names() {
        let all: Vec<Recipe> = RECIPES.iter().map(|r| recipe(r).expect("a recipe")).collect();
        assert_eq!(all.len(), 5);
        let leapsome = all.iter().find(|r| r.name == "personio-to-leapsome").expect("leapsome");
        assert_eq!(leapsome.seed, "004");
        assert_eq!(leapsome.source.plugin, "personio");
        assert_eq!(leapsome.source.secrets, ["client-id", "client-secret"]);
        let rules: Vec<&str> = leapsome.rules.iter().map(|r| r.plugin.as_str()).collect();
        assert_eq!(rules, ["attribute-map", "team-map"]);
        assert_eq!(leapsome.target.config["preset"], "leapsome");
        assert_eq!(leapsome.options["create_for"], serde_json::json!(["active"]));
        assert!(
            leapsome.description.starts_with("Personio → Leapsome"),
            "{}",
            leapsome.description
        );
        for recipe in &all {
            let options: Result<hrsync_engine::plan::Options, _> = serde_json::from_value(recipe.options.clone());
            assert!(options.is_ok(), "{}: {options:?}", recipe.name);
        }
    }
}
