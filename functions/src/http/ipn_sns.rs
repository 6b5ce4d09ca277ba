//! The production [`IpnVerifier`]: the SNS verifier of `functions::sns` behind the IPN route.

use async_trait::async_trait;

use savedwallet_app::usecases::VerifiedIpn;

use super::ipn::{IpnDelivery, IpnRefusal, IpnVerifier, RefusalClass, SubscriptionConfirmation};
use crate::sns::{self, SnsRefusal, SnsVerifier, VerifiedSns};

fn refusal(r: &SnsRefusal) -> IpnRefusal {
    let class = match r.class() {
        sns::RefusalClass::BadRequest => RefusalClass::BadRequest,
        sns::RefusalClass::Forbidden => RefusalClass::Forbidden,
        sns::RefusalClass::Unavailable => RefusalClass::Unavailable,
    };
    IpnRefusal::new(class, r.code())
}

#[async_trait]
impl IpnVerifier for SnsVerifier {
    async fn verify(&self, body: &[u8]) -> Result<IpnDelivery, IpnRefusal> {
        match SnsVerifier::verify(self, body)
            .await
            .map_err(|r| refusal(&r))?
        {
            VerifiedSns::Notification(n) => Ok(IpnDelivery::Notification(VerifiedIpn {
                message_id: n.message_id,
                published: n.timestamp,
                message: n.ipn,
            })),
            VerifiedSns::SubscriptionConfirmation(c) => Ok(IpnDelivery::SubscriptionConfirmation(
                SubscriptionConfirmation::new(
                    c.topic_arn().to_string(),
                    c.message_id().to_string(),
                    c,
                ),
            )),
            VerifiedSns::UnsubscribeConfirmation(_) => Ok(IpnDelivery::UnsubscribeConfirmation),
        }
    }

    async fn confirm(&self, confirmation: &SubscriptionConfirmation) -> Result<(), IpnRefusal> {
        // Only `verify` above makes a confirmation carrying an `SnsConfirmation`.
        let Some(c) = confirmation.inner::<sns::SnsConfirmation>() else {
            return Err(IpnRefusal::new(
                RefusalClass::BadRequest,
                "not_a_subscription_confirmation",
            ));
        };
        self.confirm_subscription(c).await.map_err(|r| refusal(&r))
    }
}
