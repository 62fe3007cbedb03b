//! Plain HTML pages for people who follow a link from an email. No JavaScript: forms
//! post back to the server, errors are shown next to their field.

mod html;
pub mod invitation;
pub mod password_reset;
pub mod registration;
