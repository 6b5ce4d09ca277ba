//! What the helper keeps in the tab's `sessionStorage` (per tab, gone with it; never
//! `localStorage`, so another tab or a later visit never sees it):
//!
//! | key | value | lifetime |
//! |---|---|---|
//! | `savedwallet:pending` | the charge or setup waiting for the buyer's return (JSON) | redirect → completed return |
//! | `savedwallet:return:<sessionId>` | `started` before the completion call, `done` (`done:<walletId>` for a setup) after | the tab |
//! | `savedwallet:notice` | the failed-payment message for the checkout start page | until read |
//!
//! The `return:` guard is what keeps a reload (or Back into the return URL) from completing
//! twice; a second tab is safe anyway because the API completes exactly once. Storage may be
//! unavailable (sandboxed frames, some private modes): writes then fail silently and the helper
//! relies on the API's exactly-once completion alone.

use wasm_bindgen::JsValue;
use web_sys::Storage;

use crate::js;

/// The pending-state key.
pub const PENDING_KEY: &str = "savedwallet:pending";
/// The notice key.
pub const NOTICE_KEY: &str = "savedwallet:notice";
const RETURN_PREFIX: &str = "savedwallet:return:";

/// Where a completion of a checkout session stands in this tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Guard {
    /// Never tried here.
    Fresh,
    /// A completion call was sent and its answer never read (the page went away mid-call).
    Started,
    /// Completed: never call again (with what it made, e.g. the wallet id of a setup).
    Done(Option<String>),
}

/// The tab's session storage (or none).
#[derive(Clone)]
pub struct TabState {
    storage: Option<Storage>,
}

impl TabState {
    /// The window's `sessionStorage`, if the browser gives it.
    pub fn session() -> TabState {
        let storage = web_sys::window().and_then(|w| w.session_storage().ok().flatten());
        TabState { storage }
    }

    /// A stand-in with no storage (everything reads as empty).
    pub fn none() -> TabState {
        TabState { storage: None }
    }

    fn read(&self, key: &str) -> Option<String> {
        self.storage.as_ref()?.get_item(key).ok().flatten()
    }

    fn write(&self, key: &str, value: &str) {
        if let Some(s) = &self.storage {
            let _ = s.set_item(key, value);
        }
    }

    fn remove(&self, key: &str) {
        if let Some(s) = &self.storage {
            let _ = s.remove_item(key);
        }
    }

    /// The pending charge or setup (a plain object), if any.
    pub fn pending(&self) -> Option<JsValue> {
        self.read(PENDING_KEY)
            .and_then(|t| js::parse(&t))
            .filter(|v| v.is_object())
    }

    /// Saves the pending state (before the redirect).
    pub fn set_pending(&self, value: &JsValue) {
        if let Some(t) = js::stringify(value) {
            self.write(PENDING_KEY, &t);
        }
    }

    /// Forgets the pending state.
    pub fn clear_pending(&self) {
        self.remove(PENDING_KEY);
    }

    /// The completion guard of a checkout session.
    pub fn guard(&self, session: &str) -> Guard {
        match self.read(&return_key(session)) {
            Some(v) if v == "done" => Guard::Done(None),
            Some(v) => match v.strip_prefix("done:") {
                Some(made) => Guard::Done(Some(made.to_string())),
                None => Guard::Started,
            },
            None => Guard::Fresh,
        }
    }

    /// Records that the completion call is about to be sent.
    pub fn mark_started(&self, session: &str) {
        self.write(&return_key(session), "started");
    }

    /// Records that the completion answered (and what it made, if anything).
    pub fn mark_done(&self, session: &str, made: Option<&str>) {
        match made {
            Some(m) => {
                let mut v = String::from("done:");
                v.push_str(m);
                self.write(&return_key(session), &v);
            }
            None => self.write(&return_key(session), "done"),
        }
    }

    /// Forgets a started completion that got no answer (it may be tried again).
    pub fn unmark(&self, session: &str) {
        self.remove(&return_key(session));
    }

    /// Leaves a message for the checkout start page.
    pub fn set_notice(&self, message: &str) {
        self.write(NOTICE_KEY, message);
    }

    /// Reads and removes the message.
    pub fn take_notice(&self) -> Option<String> {
        let n = self.read(NOTICE_KEY);
        self.remove(NOTICE_KEY);
        n
    }
}

fn return_key(session: &str) -> String {
    let mut k = String::with_capacity(RETURN_PREFIX.len() + session.len());
    k.push_str(RETURN_PREFIX);
    k.push_str(session);
    k
}
