//! A programmatic buyer for tests and `savedwallet simulate`: drives the hosted buyer pages
//! over HTTP exactly as a browser would (GET the page, read its form token, POST the form,
//! follow nothing), so whole-system tests go through the same pages a person uses.

use url::Url;

use crate::model::{MfaOutcome, Preset};

/// Why a buyer step failed.
#[derive(Debug, thiserror::Error)]
pub enum BuyerError {
    /// The page could not be fetched or posted.
    #[error("buyer page request failed: {0}")]
    Http(String),
    /// The page answered something else than a form or a redirect.
    #[error("unexpected buyer page answer {status}: {detail}")]
    Page {
        /// HTTP status.
        status: u16,
        /// What was missing.
        detail: String,
    },
}

/// A buyer's browser, without JavaScript or cookies.
#[derive(Debug, Clone)]
pub struct Buyer {
    http: reqwest::Client,
}

impl Default for Buyer {
    fn default() -> Self {
        Buyer::new()
    }
}

fn token_of(html: &str) -> Option<String> {
    let marker = "name=\"token\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_string())
}

impl Buyer {
    /// A buyer that never follows redirects (the caller sees where Amazon sends it).
    pub fn new() -> Buyer {
        Buyer {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default(),
        }
    }

    async fn form(&self, page: &str) -> Result<String, BuyerError> {
        let r = self
            .http
            .get(page)
            .send()
            .await
            .map_err(|e| BuyerError::Http(e.to_string()))?;
        let status = r.status().as_u16();
        let html = r
            .text()
            .await
            .map_err(|e| BuyerError::Http(e.to_string()))?;
        token_of(&html).ok_or(BuyerError::Page {
            status,
            detail: "no form token on the page".into(),
        })
    }

    async fn post(&self, page: &str, fields: &[(&str, &str)]) -> Result<String, BuyerError> {
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().copied())
            .finish();
        let r = self
            .http
            .post(page)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| BuyerError::Http(e.to_string()))?;
        let status = r.status().as_u16();
        let location = r
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        match location {
            Some(l) if (300..400).contains(&status) => Ok(l),
            _ => Err(BuyerError::Page {
                status,
                detail: r
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect(),
            }),
        }
    }

    /// On Amazon's checkout page (`amazonPayRedirectUrl` of a checkout session): picks a
    /// payment method and consents. Returns where Amazon sends the buyer back
    /// (`checkoutResultReturnUrl?amazonCheckoutSessionId=…`).
    pub async fn consent(&self, redirect_url: &str, preset: Preset) -> Result<String, BuyerError> {
        let token = self.form(redirect_url).await?;
        self.post(
            redirect_url,
            &[
                ("token", &token),
                ("action", "consent"),
                ("preset", preset.name()),
            ],
        )
        .await
    }

    /// On Amazon's checkout page: cancels and goes back to the merchant.
    pub async fn cancel_checkout(&self, redirect_url: &str) -> Result<String, BuyerError> {
        let token = self.form(redirect_url).await?;
        self.post(redirect_url, &[("token", &token), ("action", "cancel")])
            .await
    }

    /// On the MFA challenge page (`amazonPayRedirectUrl` of an ActionRequired charge):
    /// approves, fails or abandons. Returns the return URL.
    pub async fn challenge(
        &self,
        redirect_url: &str,
        outcome: MfaOutcome,
    ) -> Result<String, BuyerError> {
        let token = self.form(redirect_url).await?;
        let value = match outcome {
            MfaOutcome::Approved => "approved",
            MfaOutcome::Failed => "failed",
            MfaOutcome::Abandoned => "abandoned",
        };
        self.post(redirect_url, &[("token", &token), ("outcome", value)])
            .await
    }

    /// On the payment-method update page (`…/jr/your-account/ba/{id}`): picks a new method.
    pub async fn update_payment_method(
        &self,
        update_url: &str,
        preset: Preset,
    ) -> Result<(), BuyerError> {
        let token = self.form(update_url).await?;
        self.post(
            update_url,
            &[
                ("token", &token),
                ("action", "update"),
                ("preset", preset.name()),
            ],
        )
        .await
        .map(|_| ())
    }

    /// On the update page: closes the Saved Wallet.
    pub async fn close_wallet(&self, update_url: &str) -> Result<(), BuyerError> {
        let token = self.form(update_url).await?;
        self.post(update_url, &[("token", &token), ("action", "close")])
            .await
            .map(|_| ())
    }
}

/// The `amazonCheckoutSessionId` of a return URL.
pub fn returned_session(return_url: &str) -> Option<String> {
    let u = Url::parse(return_url).ok()?;
    let id = u
        .query_pairs()
        .find(|(k, _)| k == "amazonCheckoutSessionId")
        .map(|(_, v)| v.to_string());
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_form_tokens_and_returned_sessions() {
        assert_eq!(
            token_of(r#"<input type="hidden" name="token" value="abc123">"#),
            Some("abc123".into())
        );
        assert_eq!(token_of("<p>no form</p>"), None);
        assert_eq!(
            returned_session("http://localhost:1/done?x=1&amazonCheckoutSessionId=s-1"),
            Some("s-1".into())
        );
        assert_eq!(returned_session("http://localhost:1/done"), None);
    }
}
