//! A form of one text field and one button — the side panel has several (join a room, rename,
//! create a private room, message a user, invite). What was typed goes to the form's `submit`,
//! which acts on it and clears the field, or says what is wrong, under the field.

use leptos::prelude::*;

/// What a [`FieldForm`] shows.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The form's class (for styling and tests).
    pub class: &'static str,
    /// The text field's id.
    pub input: &'static str,
    /// The field's label, for screen readers.
    pub label: &'static str,
    /// The placeholder.
    pub placeholder: &'static str,
    /// The longest text the field takes.
    pub max_length: usize,
    /// The button's id.
    pub button: &'static str,
    /// The button's text.
    pub action: &'static str,
}

/// One field, one button, and the error of the last submit. `submit` is a [`Callback`] (not a
/// generic closure) so the form's view is compiled once, not once per form: the client's size
/// is paid per copy.
#[component]
pub fn FieldForm(
    /// What the form shows.
    field: Field,
    /// Acts on the trimmed text, or says why not.
    #[prop(into)]
    submit: Callback<String, Result<(), String>>,
) -> impl IntoView {
    let value = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        match submit.run(value.get_untracked().trim().to_owned()) {
            Ok(()) => {
                error.set(None);
                value.set(String::new());
            }
            Err(message) => error.set(Some(message)),
        }
    };
    view! {
        <form class=field.class on:submit=on_submit>
            <label for=field.input class="visually-hidden">{field.label}</label>
            <input
                type="text"
                id=field.input
                placeholder=field.placeholder
                maxlength=field.max_length.to_string()
                prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))
            />
            <button type="submit" id=field.button>{field.action}</button>
            <p class="error" role="alert">{move || error.get()}</p>
        </form>
    }
}
