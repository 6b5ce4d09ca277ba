//! Small accessors over JavaScript objects. The API's JSON is parsed by the browser
//! (`Response.json()`) and read field by field here, instead of deserialising into Rust
//! structs: serde and its derives would cost more than the whole helper (see README).

use js_sys::{Object, Reflect, JSON};
use wasm_bindgen::JsValue;

/// `obj[key]`, `None` when missing, `null` or `undefined` (or when `obj` is not an object).
pub fn get(obj: &JsValue, key: &str) -> Option<JsValue> {
    if !obj.is_object() {
        return None;
    }
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .filter(|v| !v.is_null() && !v.is_undefined())
}

/// `obj[key]` as a string.
pub fn string(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).and_then(|v| v.as_string())
}

/// `obj[key]` as a boolean.
pub fn boolean(obj: &JsValue, key: &str) -> Option<bool> {
    get(obj, key).and_then(|v| v.as_bool())
}

/// A fresh plain object.
pub fn object() -> JsValue {
    Object::new().into()
}

/// Sets `obj[key] = value` (ignored on a frozen object).
pub fn put(obj: &JsValue, key: &str, value: &JsValue) {
    crate::error::set(obj, key, value);
}

/// Sets `obj[key]` to a string.
pub fn put_str(obj: &JsValue, key: &str, value: &str) {
    put(obj, key, &JsValue::from_str(value));
}

/// `JSON.stringify(value)`.
pub fn stringify(value: &JsValue) -> Option<String> {
    JSON::stringify(value).ok().and_then(|s| s.as_string())
}

/// `JSON.parse(text)`, `None` on bad JSON.
pub fn parse(text: &str) -> Option<JsValue> {
    JSON::parse(text).ok()
}
