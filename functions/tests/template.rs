//! `infra/template.yaml` must declare exactly the table layout defined in code
//! (`store::schema::SCHEMA`): key schema, attribute types, GSIs and the TTL attribute; and
//! exactly the HTTP routes the Lambda functions serve, each on the function that serves it
//! (`http::LambdaFunction::serves`), with the right authorizer.

use std::collections::BTreeSet;

use savedwallet_functions::http::{lambda_route_table, LambdaFunction};
use savedwallet_functions::store::schema::{TableSchema, SCHEMA};
use serde_yaml::Value;

const TEMPLATE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../infra/template.yaml"
));

/// CloudFormation short tags (`!Ref`, `!Sub`, …) parse as tagged values: look through them.
fn untag(v: &Value) -> &Value {
    match v {
        Value::Tagged(t) => untag(&t.value),
        other => other,
    }
}

fn get<'a>(v: &'a Value, key: &str) -> Result<&'a Value, String> {
    untag(v)
        .get(key)
        .map(untag)
        .ok_or_else(|| format!("missing {key}"))
}

fn text<'a>(v: &'a Value, key: &str) -> Result<&'a str, String> {
    get(v, key)?
        .as_str()
        .ok_or_else(|| format!("{key} is not a string"))
}

fn list<'a>(v: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    get(v, key)?
        .as_sequence()
        .ok_or_else(|| format!("{key} is not a list"))
}

fn key_schema(v: &Value) -> Result<Vec<(String, String)>, String> {
    list(v, "KeySchema")?
        .iter()
        .map(|k| Ok((text(k, "AttributeName")?.into(), text(k, "KeyType")?.into())))
        .collect()
}

fn hash_range(p: &str, s: &str) -> Vec<(String, String)> {
    vec![(p.into(), "HASH".into()), (s.into(), "RANGE".into())]
}

/// Compares the template's DynamoDB table with the schema; `Err` says what differs.
fn check(template: &str, schema: &TableSchema) -> Result<(), String> {
    let doc: Value = serde_yaml::from_str(template).map_err(|e| e.to_string())?;
    let resources = get(&doc, "Resources")?
        .as_mapping()
        .ok_or("Resources is not a mapping")?;
    let tables: Vec<&Value> = resources
        .values()
        .filter(|r| text(r, "Type").ok() == Some("AWS::DynamoDB::Table"))
        .collect();
    let [table] = tables.as_slice() else {
        return Err(format!(
            "expected one DynamoDB table, found {}",
            tables.len()
        ));
    };
    let props = get(table, "Properties")?;

    if text(props, "BillingMode")? != "PAY_PER_REQUEST" {
        return Err("BillingMode must be PAY_PER_REQUEST".into());
    }
    let defs: BTreeSet<(String, String)> = list(props, "AttributeDefinitions")?
        .iter()
        .map(|d| {
            Ok((
                text(d, "AttributeName")?.into(),
                text(d, "AttributeType")?.into(),
            ))
        })
        .collect::<Result<_, String>>()?;
    let want: BTreeSet<(String, String)> = schema
        .attribute_definitions()
        .iter()
        .map(|a| (a.name.to_string(), a.kind.as_str().to_string()))
        .collect();
    if defs != want {
        return Err(format!("AttributeDefinitions {defs:?} != schema {want:?}"));
    }
    if key_schema(props)? != hash_range(schema.partition.name, schema.sort.name) {
        return Err("table KeySchema differs".into());
    }
    let gsis = list(props, "GlobalSecondaryIndexes")?;
    if gsis.len() != schema.indexes.len() {
        return Err(format!(
            "{} GSIs, schema has {}",
            gsis.len(),
            schema.indexes.len()
        ));
    }
    for idx in schema.indexes {
        let gsi = gsis
            .iter()
            .find(|g| text(g, "IndexName").ok() == Some(idx.name))
            .ok_or_else(|| format!("GSI {} missing", idx.name))?;
        if key_schema(gsi)? != hash_range(idx.partition.name, idx.sort.name) {
            return Err(format!("GSI {} KeySchema differs", idx.name));
        }
        if text(get(gsi, "Projection")?, "ProjectionType")? != "ALL" {
            return Err(format!("GSI {} must project ALL", idx.name));
        }
    }
    let ttl = get(props, "TimeToLiveSpecification")?;
    if text(ttl, "AttributeName")? != schema.ttl_attribute {
        return Err("TTL attribute differs".into());
    }
    if get(ttl, "Enabled")?.as_bool() != Some(true) {
        return Err("TTL must be enabled".into());
    }
    Ok(())
}

#[test]
fn template_matches_the_schema_in_code() {
    check(TEMPLATE, &SCHEMA).unwrap();
}

#[test]
fn the_check_catches_drift() {
    let drifted = [
        (
            "AttributeName: gsi1sk\n          AttributeType: N",
            "AttributeName: gsi1sk\n          AttributeType: S",
        ),
        ("AttributeName: expires_at", "AttributeName: ttl"),
        ("ProjectionType: ALL", "ProjectionType: KEYS_ONLY"),
        ("- IndexName: gsi2", "- IndexName: lookup"),
        (
            "              KeyType: RANGE\n          Projection",
            "              KeyType: HASH\n          Projection",
        ),
        ("BillingMode: PAY_PER_REQUEST", "BillingMode: PROVISIONED"),
    ];
    for (from, to) in drifted {
        assert!(
            TEMPLATE.contains(from),
            "fixture text {from:?} not in template"
        );
        let changed = TEMPLATE.replacen(from, to, 1);
        assert!(
            check(&changed, &SCHEMA).is_err(),
            "drift not caught: {to:?}"
        );
    }
}

#[test]
fn tags_are_handled() {
    // `!Sub` / `!Ref` values parse as tagged values and do not break the walk.
    let doc: Value = serde_yaml::from_str(TEMPLATE).unwrap();
    let name = get(
        get(get(&doc, "Resources").unwrap(), "Table").unwrap(),
        "Properties",
    )
    .and_then(|p| text(p, "TableName"))
    .unwrap();
    assert_eq!(name, "${AWS::StackName}-store");
}

/// One API route as the template declares it: (function, METHOD, path, authorizer), the
/// authorizer being `AWS_IAM`, `NONE` or `default` (the API's default, the buyers' JWT).
type Route = (String, String, String, String);

/// The `HttpApi` events of the template's functions.
fn template_routes(template: &str) -> Result<BTreeSet<Route>, String> {
    let doc: Value = serde_yaml::from_str(template).map_err(|e| e.to_string())?;
    let resources = get(&doc, "Resources")?
        .as_mapping()
        .ok_or("Resources is not a mapping")?;
    let mut routes = BTreeSet::new();
    for function in resources
        .values()
        .filter(|r| text(r, "Type").ok() == Some("AWS::Serverless::Function"))
    {
        let binary = text(
            get(get(function, "Metadata")?, "BuildProperties")?,
            "Binary",
        )?;
        if binary != "savedwallet-lambda" {
            return Err(format!(
                "binary {binary:?}: every function runs savedwallet-lambda"
            ));
        }
        // Which function the binary is: SAVEDWALLET_FUNCTION.
        let binary = text(
            get(
                get(get(function, "Properties")?, "Environment")?,
                "Variables",
            )?,
            "SAVEDWALLET_FUNCTION",
        )?;
        let Ok(events) = get(get(function, "Properties")?, "Events") else {
            continue;
        };
        let events = events.as_mapping().ok_or("Events is not a mapping")?;
        for event in events
            .values()
            .filter(|e| text(e, "Type").ok() == Some("HttpApi"))
        {
            let props = get(event, "Properties")?;
            let auth = match get(props, "Auth") {
                Ok(auth) => text(auth, "Authorizer")?.to_string(),
                Err(_) => "default".to_string(),
            };
            let route = (
                binary.to_string(),
                text(props, "Method")?.to_uppercase(),
                text(props, "Path")?.to_string(),
                auth,
            );
            if !routes.insert(route.clone()) {
                return Err(format!("{route:?} is declared twice"));
            }
        }
    }
    Ok(routes)
}

/// What the template must declare: every route the Lambda functions serve (no `/dev`), on
/// the function that serves it; the routes every function serves (`/health`,
/// `/openapi.json`) on `wallets`. Buyer routes use the default (JWT) authorizer, admin
/// routes `AWS_IAM`, the rest (`/ipn`, `/health`, `/openapi.json`) none.
fn expected_routes() -> BTreeSet<Route> {
    lambda_route_table()
        .into_iter()
        .map(|r| {
            let owners: Vec<LambdaFunction> = LambdaFunction::ALL
                .into_iter()
                .filter(|f| f.serves(&r.method, r.path))
                .collect();
            let function = match owners.as_slice() {
                [one] => *one,
                _ => LambdaFunction::Wallets,
            };
            let auth = if r.path.starts_with("/admin/") {
                "AWS_IAM"
            } else if r.path.starts_with("/v1/") {
                "default"
            } else {
                "NONE"
            };
            (
                function.name().to_string(),
                r.method.to_string(),
                r.path.to_string(),
                auth.to_string(),
            )
        })
        .collect()
}

#[test]
fn template_routes_match_the_functions() {
    let declared = template_routes(TEMPLATE).unwrap();
    let expected = expected_routes();
    let missing: Vec<_> = expected.difference(&declared).collect();
    let extra: Vec<_> = declared.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "infra/template.yaml routes differ from the code: missing {missing:#?}, not served {extra:#?}"
    );
    assert!(!declared
        .iter()
        .any(|(_, _, path, _)| path.starts_with("/dev")));

    // The default authorizer really is the buyers' JWT authorizer.
    let doc: Value = serde_yaml::from_str(TEMPLATE).unwrap();
    let auth = get(
        get(
            get(get(&doc, "Resources").unwrap(), "Api").unwrap(),
            "Properties",
        )
        .unwrap(),
        "Auth",
    )
    .unwrap();
    let default = text(auth, "DefaultAuthorizer").unwrap();
    let authorizer = get(get(auth, "Authorizers").unwrap(), default).unwrap();
    assert!(
        get(authorizer, "JwtConfiguration").is_ok(),
        "{default} is not a JWT authorizer"
    );

    // Every Lambda binary is a function of the template.
    let binaries: BTreeSet<&str> = declared.iter().map(|(b, _, _, _)| b.as_str()).collect();
    for f in LambdaFunction::ALL {
        assert!(binaries.contains(f.name()), "no routes for {}", f.name());
    }
}

#[test]
fn the_route_check_catches_drift() {
    let drifted = [
        // A route on the wrong function, a missing route, a wrong authorizer.
        (
            "SAVEDWALLET_FUNCTION: complete-checkout",
            "SAVEDWALLET_FUNCTION: wallets",
        ),
        (
            "Method: DELETE, Path: \"/v1/wallets/{walletId}\"",
            "Method: DELETE, Path: /v1/wallets/x",
        ),
        (
            "Method: POST, Path: /ipn, Auth: {Authorizer: NONE}",
            "Method: POST, Path: /ipn",
        ),
        (
            "Path: /admin/v1/events, Auth: {Authorizer: AWS_IAM}",
            "Path: /admin/v1/events, Auth: {Authorizer: NONE}",
        ),
    ];
    for (from, to) in drifted {
        assert!(
            TEMPLATE.contains(from),
            "fixture text {from:?} not in template"
        );
        let changed = TEMPLATE.replacen(from, to, 1);
        assert_ne!(
            template_routes(&changed).unwrap(),
            expected_routes(),
            "drift not caught: {to:?}"
        );
    }
}
