//! Every operation of the SPEC §1 table, typed; the payment operations also from stored
//! body bytes; and `call_raw` for the CLI.

use serde::de::DeserializeOwned;
use serde::Serialize;

use savedwallet_shared::api::operation::Operation;
use savedwallet_shared::api::{
    CancelChargeRequest, CaptureChargeRequest, Charge, ChargePermission, CheckoutSession,
    CloseChargePermissionRequest, CompleteCheckoutSessionRequest, CreateChargeRequest,
    CreateCheckoutSessionRequest, CreateRefundRequest, Refund, UpdateChargePermissionRequest,
    UpdateCheckoutSessionRequest, Validate,
};

use crate::client::{serialize, AmazonPayClient, ApiResponse};
use crate::error::{Error, RequestError};
use crate::send::{decode_error, json_problem};

impl AmazonPayClient {
    /// Create Checkout Session (201).
    pub async fn create_checkout_session(
        &self,
        body: &CreateCheckoutSessionRequest,
        idempotency_key: &str,
    ) -> Result<ApiResponse<CheckoutSession>, Error> {
        let bytes = self.body_bytes(body)?;
        let op = Operation::CreateCheckoutSession;
        self.typed(op, None, bytes, Some(idempotency_key), None)
            .await
    }

    /// Get Checkout Session (200).
    pub async fn get_checkout_session(
        &self,
        id: &str,
    ) -> Result<ApiResponse<CheckoutSession>, Error> {
        self.fetch(Operation::GetCheckoutSession, id).await
    }

    /// Update Checkout Session (200).
    pub async fn update_checkout_session(
        &self,
        id: &str,
        body: &UpdateCheckoutSessionRequest,
    ) -> Result<ApiResponse<CheckoutSession>, Error> {
        let bytes = self.body_bytes(body)?;
        self.typed(
            Operation::UpdateCheckoutSession,
            Some(id),
            bytes,
            None,
            None,
        )
        .await
    }

    /// Complete Checkout Session (200, or 202 while authorization is pending).
    pub async fn complete_checkout_session(
        &self,
        id: &str,
        body: &CompleteCheckoutSessionRequest,
        idempotency_key: &str,
    ) -> Result<ApiResponse<CheckoutSession>, Error> {
        let bytes = self.body_bytes(body)?;
        self.complete_checkout_session_from_bytes(id, &bytes, idempotency_key)
            .await
    }

    /// Complete Checkout Session from stored body bytes (checked, then sent byte for byte).
    pub async fn complete_checkout_session_from_bytes(
        &self,
        id: &str,
        body: &[u8],
        idempotency_key: &str,
    ) -> Result<ApiResponse<CheckoutSession>, Error> {
        let op = Operation::CompleteCheckoutSession;
        self.check_stored::<CompleteCheckoutSessionRequest>(op, body)?;
        self.typed(op, Some(id), body.to_vec(), Some(idempotency_key), None)
            .await
    }

    /// Get Charge Permission (200).
    pub async fn get_charge_permission(
        &self,
        id: &str,
    ) -> Result<ApiResponse<ChargePermission>, Error> {
        self.fetch(Operation::GetChargePermission, id).await
    }

    /// Update Charge Permission (200).
    pub async fn update_charge_permission(
        &self,
        id: &str,
        body: &UpdateChargePermissionRequest,
    ) -> Result<ApiResponse<ChargePermission>, Error> {
        self.act_on(Operation::UpdateChargePermission, id, body)
            .await
    }

    /// Close Charge Permission (200).
    pub async fn close_charge_permission(
        &self,
        id: &str,
        body: &CloseChargePermissionRequest,
    ) -> Result<ApiResponse<ChargePermission>, Error> {
        self.act_on(Operation::CloseChargePermission, id, body)
            .await
    }

    /// Create Charge (201 Authorized/Captured/AuthorizationInitiated, or 202 ActionRequired).
    /// The body is validated first ([`Validate`]): nothing is sent if Amazon would refuse it.
    pub async fn create_charge(
        &self,
        body: &CreateChargeRequest,
        idempotency_key: &str,
    ) -> Result<ApiResponse<Charge>, Error> {
        let bytes = self.body_bytes(body)?;
        self.create_charge_from_bytes(&bytes, idempotency_key).await
    }

    /// Create Charge from the exact bytes the caller stored before the first attempt (from
    /// [`AmazonPayClient::body_bytes`]): checked to be a valid Create Charge request, then
    /// sent byte for byte, so a resend after a crash or a lost response is identical.
    pub async fn create_charge_from_bytes(
        &self,
        body: &[u8],
        idempotency_key: &str,
    ) -> Result<ApiResponse<Charge>, Error> {
        let op = Operation::CreateCharge;
        let req = self.check_stored::<CreateChargeRequest>(op, body)?;
        let log_id = Some(req.charge_permission_id.as_str());
        self.typed(op, None, body.to_vec(), Some(idempotency_key), log_id)
            .await
    }

    /// Get Charge (200).
    pub async fn get_charge(&self, id: &str) -> Result<ApiResponse<Charge>, Error> {
        self.fetch(Operation::GetCharge, id).await
    }

    /// Capture Charge (200).
    pub async fn capture_charge(
        &self,
        id: &str,
        body: &CaptureChargeRequest,
        idempotency_key: &str,
    ) -> Result<ApiResponse<Charge>, Error> {
        let bytes = self.body_bytes(body)?;
        self.capture_charge_from_bytes(id, &bytes, idempotency_key)
            .await
    }

    /// Capture Charge from stored body bytes (checked, then sent byte for byte).
    pub async fn capture_charge_from_bytes(
        &self,
        id: &str,
        body: &[u8],
        idempotency_key: &str,
    ) -> Result<ApiResponse<Charge>, Error> {
        let op = Operation::CaptureCharge;
        self.check_stored::<CaptureChargeRequest>(op, body)?;
        self.typed(op, Some(id), body.to_vec(), Some(idempotency_key), None)
            .await
    }

    /// Cancel Charge (200).
    pub async fn cancel_charge(
        &self,
        id: &str,
        body: &CancelChargeRequest,
    ) -> Result<ApiResponse<Charge>, Error> {
        self.act_on(Operation::CancelCharge, id, body).await
    }

    /// Create Refund (201, RefundInitiated).
    pub async fn create_refund(
        &self,
        body: &CreateRefundRequest,
        idempotency_key: &str,
    ) -> Result<ApiResponse<Refund>, Error> {
        let bytes = self.body_bytes(body)?;
        self.create_refund_from_bytes(&bytes, idempotency_key).await
    }

    /// Create Refund from stored body bytes (checked, then sent byte for byte).
    pub async fn create_refund_from_bytes(
        &self,
        body: &[u8],
        idempotency_key: &str,
    ) -> Result<ApiResponse<Refund>, Error> {
        let op = Operation::CreateRefund;
        let req = self.check_stored::<CreateRefundRequest>(op, body)?;
        let log_id = Some(req.charge_id.as_str());
        self.typed(op, None, body.to_vec(), Some(idempotency_key), log_id)
            .await
    }

    /// Get Refund (200).
    pub async fn get_refund(&self, id: &str) -> Result<ApiResponse<Refund>, Error> {
        self.fetch(Operation::GetRefund, id).await
    }

    /// Any operation with a raw body (sent byte-exact, **not** validated: the CLI's and
    /// the simulator tests' way to send what Live would refuse) and a JSON answer.
    /// Operations with a body default to `{}` when `body` is `None`. POST needs a key.
    pub async fn call_raw(
        &self,
        op: Operation,
        id: Option<&str>,
        body: Option<Vec<u8>>,
        idempotency_key: Option<&str>,
    ) -> Result<ApiResponse<serde_json::Value>, Error> {
        let body = match (op.has_body(), body) {
            (true, Some(b)) => b,
            (true, None) => b"{}".to_vec(),
            (false, Some(b)) if !b.is_empty() => {
                return Err(RequestError::UnexpectedBody(op).into())
            }
            (false, _) => Vec::new(),
        };
        let (attempt, attempts) = self.execute(op, id, body, idempotency_key, None).await?;
        let json = if attempt.body.iter().all(u8::is_ascii_whitespace) {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&attempt.body).map_err(|e| decode_error(attempt.status, &e))?
        };
        Ok(ApiResponse {
            status: attempt.status,
            request_id: attempt.request_id,
            attempts,
            body: json,
        })
    }

    /// Parses stored bytes as the operation's request and validates it; the bytes
    /// themselves are what is sent.
    fn check_stored<R: DeserializeOwned + Validate>(
        &self,
        op: Operation,
        body: &[u8],
    ) -> Result<R, Error> {
        let req: R = serde_json::from_slice(body).map_err(|e| RequestError::NotARequest {
            op,
            problem: json_problem(&e),
        })?;
        req.validate(self.environment())?;
        Ok(req)
    }

    /// An operation on one existing resource with a body and no validation rules
    /// (update, close, cancel — no idempotency key: not POST).
    async fn act_on<B: Serialize, T: DeserializeOwned>(
        &self,
        op: Operation,
        id: &str,
        body: &B,
    ) -> Result<ApiResponse<T>, Error> {
        self.typed(op, Some(id), serialize(body)?, None, None).await
    }

    /// A GET of one resource: no body, no idempotency key.
    async fn fetch<T: DeserializeOwned>(
        &self,
        op: Operation,
        id: &str,
    ) -> Result<ApiResponse<T>, Error> {
        self.typed(op, Some(id), Vec::new(), None, None).await
    }

    /// Sends `bytes` with resends and decodes the success body as `T`. `log_id` is the
    /// resource a Create acts on (the permission charged, the charge refunded), logged as
    /// the call's `resource_id`.
    async fn typed<T: DeserializeOwned>(
        &self,
        op: Operation,
        id: Option<&str>,
        bytes: Vec<u8>,
        idempotency_key: Option<&str>,
        log_id: Option<&str>,
    ) -> Result<ApiResponse<T>, Error> {
        let (attempt, attempts) = self.execute(op, id, bytes, idempotency_key, log_id).await?;
        let body =
            serde_json::from_slice(&attempt.body).map_err(|e| decode_error(attempt.status, &e))?;
        Ok(ApiResponse {
            status: attempt.status,
            request_id: attempt.request_id,
            attempts,
            body,
        })
    }
}
