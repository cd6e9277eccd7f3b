//! The login page: log in or register.
//!
//! Both forms are `ActionForm`s over server functions, so they work before the
//! WASM has loaded (a plain form POST answered with a redirect) and after it
//! (a fetch, then client-side navigation). Errors are shown as the server
//! phrased them; wrong password and unknown user read the same.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::api::{Login, Register};

/// The login and registration page.
#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let register = ServerAction::<Register>::new();
    let notice = move || use_query_map().with(|q| q.get("notice"));
    let login_error = move || login.value().get().and_then(Result::err).map(|e| e.to_string());
    let register_error = move || register.value().get().and_then(Result::err).map(|e| e.to_string());
    view! {
        <main class="auth">
            <h1>"Switchboard"</h1>
            {move || notice().map(|n| view! { <p class="notice">{n}</p> })}
            <div class="auth-forms">
                <ActionForm action=login attr:class="auth-form" attr:id="login-form">
                    <h2>"Log in"</h2>
                    <label>"User name" <input type="text" name="name" autocomplete="username" required/></label>
                    <label>"Password" <input type="password" name="password" autocomplete="current-password" required/></label>
                    <button type="submit">"Log in"</button>
                    <p class="error" role="alert">{login_error}</p>
                </ActionForm>
                <ActionForm action=register attr:class="auth-form" attr:id="register-form">
                    <h2>"Register"</h2>
                    <label>"User name" <input type="text" name="name" autocomplete="username" required maxlength="32"/></label>
                    <label>"Password" <input type="password" name="password" autocomplete="new-password" required minlength="8"/></label>
                    <p class="hint">"Names: letters, digits, '_', '-' and '.'. Passwords: at least 8 characters."</p>
                    <button type="submit">"Register"</button>
                    <p class="error" role="alert">{register_error}</p>
                </ActionForm>
            </div>
        </main>
    }
}
