//! HTTP routes of the simulated SNS topic: the signing certificate, SubscribeURL and
//! UnsubscribeURL.

use super::{IpnSender, SNS_ROUTE_PREFIX};
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;

const SNS_XMLNS: &str = "http://sns.amazonaws.com/doc/2010-03-31/";

impl IpnSender {
    /// Routes to merge into the sandbox app:
    /// `GET /_sandbox/sns/SimpleNotificationService-<hash>.pem`, `GET /_sandbox/sns/confirm`
    /// and `GET /_sandbox/sns/unsubscribe`.
    pub fn router(&self) -> Router {
        let cert_path = format!("{SNS_ROUTE_PREFIX}/{}", self.shared.cert.file_name());
        Router::new()
            .route(&cert_path, get(certificate))
            .route(&format!("{SNS_ROUTE_PREFIX}/confirm"), get(confirm))
            .route(&format!("{SNS_ROUTE_PREFIX}/unsubscribe"), get(unsubscribe))
            .with_state(self.clone())
    }
}

async fn certificate(State(ipn): State<IpnSender>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-pem-file")],
        ipn.certificate_pem().to_string(),
    )
        .into_response()
}

async fn confirm(
    State(ipn): State<IpnSender>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(token) = q.get("Token") else {
        return sns_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "Token is required",
        );
    };
    match ipn.confirm_subscription(token) {
        Some(arn) => xml(
            StatusCode::OK,
            format!(
                "<ConfirmSubscriptionResponse xmlns=\"{SNS_XMLNS}\">\n  \
                 <ConfirmSubscriptionResult>\n    <SubscriptionArn>{}</SubscriptionArn>\n  \
                 </ConfirmSubscriptionResult>\n  <ResponseMetadata>\n    \
                 <RequestId>{}</RequestId>\n  </ResponseMetadata>\n\
                 </ConfirmSubscriptionResponse>\n",
                html_escape::encode_text(&arn),
                uuid::Uuid::new_v4()
            ),
        ),
        None => sns_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "No pending subscription has this token",
        ),
    }
}

async fn unsubscribe(
    State(ipn): State<IpnSender>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(arn) = q.get("SubscriptionArn") else {
        return sns_error(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            "SubscriptionArn is required",
        );
    };
    match ipn.unsubscribe(arn) {
        Ok(true) => xml(
            StatusCode::OK,
            format!(
                "<UnsubscribeResponse xmlns=\"{SNS_XMLNS}\">\n  <ResponseMetadata>\n    \
                 <RequestId>{}</RequestId>\n  </ResponseMetadata>\n</UnsubscribeResponse>\n",
                uuid::Uuid::new_v4()
            ),
        ),
        Ok(false) => sns_error(
            StatusCode::NOT_FOUND,
            "NotFound",
            "Subscription does not exist",
        ),
        Err(e) => sns_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            &e.to_string(),
        ),
    }
}

fn xml(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn sns_error(status: StatusCode, code: &str, message: &str) -> Response {
    let kind = if status.is_server_error() {
        "Receiver"
    } else {
        "Sender"
    };
    xml(
        status,
        format!(
            "<ErrorResponse xmlns=\"{SNS_XMLNS}\">\n  <Error>\n    <Type>{kind}</Type>\n    \
             <Code>{code}</Code>\n    <Message>{}</Message>\n  </Error>\n  \
             <RequestId>{}</RequestId>\n</ErrorResponse>\n",
            html_escape::encode_text(message),
            uuid::Uuid::new_v4()
        ),
    )
}
