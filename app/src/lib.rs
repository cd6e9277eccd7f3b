//! Switchboard's Leptos application.
//!
//! The same crate renders on the server (feature `ssr`) and hydrates in the
//! browser (feature `hydrate`). Server functions in [`api`] are one-liners over
//! the [`AuthBackend`](api::ssr::AuthBackend) the server provides in context, so
//! this crate holds no storage code. The websocket client in [`client`] only
//! exists in the browser; during SSR the chat page renders its static frame.
#![warn(missing_docs)]
// Leptos' typed views of the chat page nest deeply.
#![recursion_limit = "256"]

pub mod api;
pub mod chat_log;
pub mod chat_state;
pub mod client;
pub mod pages;
pub mod room_label;
pub mod search;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The HTML document around the app, rendered by the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The application: routes for the chat page and the login page.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/switchboard.css"/>
        <Title text="Switchboard"/>
        <Router>
            // Each page brings its own landmarks (header, main, aside, footer).
            <div class="page">
                <Routes fallback=|| view! { <main><p class="notice">"Page not found."</p></main> }>
                    <Route path=path!("/") view=pages::chat::ChatPage ssr=SsrMode::Async/>
                    <Route path=path!("/r/:room") view=pages::chat::ChatPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=pages::login::LoginPage/>
                </Routes>
            </div>
        </Router>
    }
}
