//! The Lambda functions' configuration, read once from the environment. Production
//! configuration has no switch for anything local: no dev routes, no sandbox certificates,
//! no minute-long plans, no http return URLs (a test proves it).

use std::collections::HashMap;

use savedwallet_app::config::Origin;
use savedwallet_app::usecases::periods::FinalDunning;
use savedwallet_shared::region::{Environment, Region};

/// Why the environment is not a valid configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    /// A required variable is missing or empty.
    #[error("{0} is not set")]
    Missing(&'static str),
    /// A variable has an invalid value.
    #[error("{name}: {problem}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong (never the value of a secret).
        problem: String,
    },
}

/// What every function needs.
#[derive(Debug, Clone, PartialEq)]
pub struct LambdaEnv {
    /// DynamoDB table (`SAVEDWALLET_TABLE`).
    pub table: String,
    /// Amazon Pay region (`AMAZON_PAY_REGION`: na, eu, jp).
    pub region: Region,
    /// Sandbox or live (`AMAZON_PAY_ENV`).
    pub environment: Environment,
    /// Public key id (`AMAZON_PAY_PUBLIC_KEY_ID`).
    pub public_key_id: String,
    /// Merchant id (`AMAZON_PAY_MERCHANT_ID`).
    pub merchant_id: String,
    /// Store id for checkout sessions (`AMAZON_PAY_STORE_ID`).
    pub store_id: String,
    /// Secrets Manager secret holding `{"privateKeyPem", "bindingSecret"}`
    /// (`AMAZON_PAY_SECRET_ARN`), fetched on first use.
    pub secret_arn: String,
    /// Idempotency-key namespace (`SAVEDWALLET_NAMESPACE`, default the table name).
    pub namespace: String,
    /// Frontend origins buyers may be sent back to (`SAVEDWALLET_RETURN_ORIGINS`, comma
    /// separated, https only).
    pub return_origins: Vec<Origin>,
    /// CORS origins (`SAVEDWALLET_CORS_ORIGINS`, default the return origins).
    pub cors_origins: Vec<Origin>,
    /// Amazon Pay endpoint override (`AMAZON_PAY_ENDPOINT`): the sandbox simulator in the
    /// Lambda binaries' tests; unset in every deployment.
    pub endpoint: Option<url::Url>,
    /// When dunning gives up (`SAVEDWALLET_FINAL_DUNNING`: `cancel`, the default, or
    /// `past_due` to leave the subscription for the merchant to reach out).
    pub final_dunning: FinalDunning,
    /// This instance's share of Amazon's per-merchant quotas (`SAVEDWALLET_QUOTA_SHARE`,
    /// 0 < share ≤ 1, default 1): a billing worker with reserved concurrency N runs at 1/N.
    pub quota_share: f64,
    /// The billing queue's URL (`SAVEDWALLET_BILLING_QUEUE_URL`; the scheduler needs it).
    pub billing_queue_url: Option<String>,
    /// The EventBridge bus merchant events go to (`SAVEDWALLET_EVENT_BUS`, default `default`).
    pub event_bus: String,
    /// The `Service` dimension of the CloudWatch metrics (`SAVEDWALLET_SERVICE`, the
    /// template sets the stack name; default `savedwallet`).
    pub service_name: String,
}

fn required(vars: &HashMap<String, String>, name: &'static str) -> Result<String, EnvError> {
    vars.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or(EnvError::Missing(name))
}

fn origins(
    vars: &HashMap<String, String>,
    name: &'static str,
) -> Result<Option<Vec<Origin>>, EnvError> {
    let Some(raw) = vars.get(name).filter(|v| !v.trim().is_empty()) else {
        return Ok(None);
    };
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let o = Origin::parse(part).map_err(|problem| EnvError::Invalid { name, problem })?;
        if !o.as_str().starts_with("https://") {
            // Production never sends a buyer to plain http.
            return Err(EnvError::Invalid {
                name,
                problem: format!("{part} is not https"),
            });
        }
        out.push(o);
    }
    Ok(Some(out))
}

fn optional(vars: &HashMap<String, String>, name: &str) -> Option<String> {
    vars.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

impl LambdaEnv {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<LambdaEnv, EnvError> {
        LambdaEnv::from_vars(&std::env::vars().collect())
    }

    /// Reads the configuration from a map of variables.
    pub fn from_vars(vars: &HashMap<String, String>) -> Result<LambdaEnv, EnvError> {
        let region = required(vars, "AMAZON_PAY_REGION")?.parse().map_err(
            |e: savedwallet_shared::region::UnknownRegion| EnvError::Invalid {
                name: "AMAZON_PAY_REGION",
                problem: e.to_string(),
            },
        )?;
        let environment = required(vars, "AMAZON_PAY_ENV")?.parse().map_err(
            |e: savedwallet_shared::region::UnknownEnvironment| EnvError::Invalid {
                name: "AMAZON_PAY_ENV",
                problem: e.to_string(),
            },
        )?;
        let table = required(vars, "SAVEDWALLET_TABLE")?;
        let return_origins = origins(vars, "SAVEDWALLET_RETURN_ORIGINS")?
            .ok_or(EnvError::Missing("SAVEDWALLET_RETURN_ORIGINS"))?;
        let cors_origins =
            origins(vars, "SAVEDWALLET_CORS_ORIGINS")?.unwrap_or_else(|| return_origins.clone());
        Ok(LambdaEnv {
            namespace: vars
                .get("SAVEDWALLET_NAMESPACE")
                .filter(|v| !v.is_empty())
                .cloned()
                .unwrap_or_else(|| table.clone()),
            table,
            region,
            environment,
            public_key_id: required(vars, "AMAZON_PAY_PUBLIC_KEY_ID")?,
            merchant_id: required(vars, "AMAZON_PAY_MERCHANT_ID")?,
            store_id: required(vars, "AMAZON_PAY_STORE_ID")?,
            secret_arn: required(vars, "AMAZON_PAY_SECRET_ARN")?,
            return_origins,
            cors_origins,
            final_dunning: match optional(vars, "SAVEDWALLET_FINAL_DUNNING").as_deref() {
                None | Some("cancel") => FinalDunning::Cancel,
                Some("past_due") => FinalDunning::LeavePastDue,
                Some(other) => {
                    return Err(EnvError::Invalid {
                        name: "SAVEDWALLET_FINAL_DUNNING",
                        problem: format!("{other:?} is not cancel or past_due"),
                    })
                }
            },
            quota_share: match optional(vars, "SAVEDWALLET_QUOTA_SHARE") {
                None => 1.0,
                Some(v) => match v.parse::<f64>() {
                    Ok(x) if x > 0.0 && x <= 1.0 => x,
                    _ => {
                        return Err(EnvError::Invalid {
                            name: "SAVEDWALLET_QUOTA_SHARE",
                            problem: format!("{v:?} is not a number in (0, 1]"),
                        })
                    }
                },
            },
            billing_queue_url: optional(vars, "SAVEDWALLET_BILLING_QUEUE_URL"),
            event_bus: optional(vars, "SAVEDWALLET_EVENT_BUS").unwrap_or_else(|| "default".into()),
            service_name: optional(vars, "SAVEDWALLET_SERVICE")
                .unwrap_or_else(|| "savedwallet".into()),
            endpoint: match vars.get("AMAZON_PAY_ENDPOINT").filter(|v| !v.is_empty()) {
                None => None,
                Some(u) => Some(url::Url::parse(u).map_err(|e| EnvError::Invalid {
                    name: "AMAZON_PAY_ENDPOINT",
                    problem: e.to_string(),
                })?),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
        let mut v: HashMap<String, String> = [
            ("SAVEDWALLET_TABLE", "savedwallet"),
            ("AMAZON_PAY_REGION", "eu"),
            ("AMAZON_PAY_ENV", "live"),
            ("AMAZON_PAY_PUBLIC_KEY_ID", "LIVE-ABC"),
            ("AMAZON_PAY_MERCHANT_ID", "A1B2C3"),
            ("AMAZON_PAY_STORE_ID", "amzn1.application-oa2-client.x"),
            (
                "AMAZON_PAY_SECRET_ARN",
                "arn:aws:secretsmanager:eu-west-1:1:secret:k",
            ),
            (
                "SAVEDWALLET_RETURN_ORIGINS",
                "https://shop.example, https://www.shop.example",
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, val) in extra {
            v.insert(k.to_string(), val.to_string());
        }
        v
    }

    #[test]
    fn reads_a_production_configuration() {
        let e = LambdaEnv::from_vars(&vars(&[])).unwrap();
        assert_eq!(e.region, Region::Eu);
        assert_eq!(e.environment, Environment::Live);
        assert_eq!(e.return_origins.len(), 2);
        assert_eq!(e.cors_origins, e.return_origins);
        assert_eq!(e.namespace, "savedwallet");
        assert_eq!(e.final_dunning, FinalDunning::Cancel);
        assert_eq!((e.quota_share, e.event_bus.as_str()), (1.0, "default"));
        assert_eq!(e.service_name, "savedwallet");
        let e = LambdaEnv::from_vars(&vars(&[
            ("SAVEDWALLET_FINAL_DUNNING", "past_due"),
            ("SAVEDWALLET_QUOTA_SHARE", "0.25"),
        ]))
        .unwrap();
        assert_eq!(
            (e.final_dunning, e.quota_share),
            (FinalDunning::LeavePastDue, 0.25)
        );
    }

    #[test]
    fn refuses_what_production_must_not_have() {
        assert_eq!(
            LambdaEnv::from_vars(&vars(&[("AMAZON_PAY_SECRET_ARN", "")])),
            Err(EnvError::Missing("AMAZON_PAY_SECRET_ARN"))
        );
        assert!(matches!(
            LambdaEnv::from_vars(&vars(&[(
                "SAVEDWALLET_RETURN_ORIGINS",
                "http://localhost:3000"
            )])),
            Err(EnvError::Invalid {
                name: "SAVEDWALLET_RETURN_ORIGINS",
                ..
            })
        ));
        assert!(matches!(
            LambdaEnv::from_vars(&vars(&[("AMAZON_PAY_REGION", "mars")])),
            Err(EnvError::Invalid { .. })
        ));
        for (name, bad) in [
            ("SAVEDWALLET_FINAL_DUNNING", "delete"),
            ("SAVEDWALLET_QUOTA_SHARE", "0"),
            ("SAVEDWALLET_QUOTA_SHARE", "2"),
            ("SAVEDWALLET_QUOTA_SHARE", "nan"),
        ] {
            assert!(
                matches!(
                    LambdaEnv::from_vars(&vars(&[(name, bad)])),
                    Err(EnvError::Invalid { .. })
                ),
                "{name}={bad}"
            );
        }
    }
}
