//! The HTTP status of a server-rendered page (a real 404 for a missing page).

/// Sets the status of the response being rendered. In the browser there is
/// no response, so it does nothing.
#[cfg(feature = "ssr")]
pub fn set_status(code: u16) {
    use leptos::prelude::use_context;
    if let (Some(options), Ok(status)) =
        (use_context::<leptos_axum::ResponseOptions>(), axum::http::StatusCode::from_u16(code))
    {
        options.set_status(status);
    }
}

/// Sets the status of the response being rendered. In the browser there is
/// no response, so it does nothing.
#[cfg(not(feature = "ssr"))]
pub fn set_status(_code: u16) {}
