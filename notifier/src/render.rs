//! The text of every email, in one place.

use crate::withheld::{Withheld, SLOT};

/// A message ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// The secret the body has a [`SLOT`] for, made only as the message is sent; none
    /// for almost every message.
    pub withheld: Option<Withheld>,
}

/// `text` with every control character (line breaks, tabs) made a space: what people
/// typed stays on the line it was put on, and cannot make a slot. Names and titles
/// taken today are one line already (docs/domain.md, "Text"); this keeps those stored
/// before that rule from writing lines of their own into a message.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

pub struct GuestInvitation<'a> {
    pub to: &'a str,
    /// "Hello Gus", or "Hello" when the inviter gave no name.
    pub greeting: &'a str,
    pub sponsor_name: &'a str,
    pub role: &'a str,
    pub task_title: &'a str,
    pub task_description: &'a str,
    pub link: &'a str,
    pub expires: &'a str,
}

pub fn guest_invitation(m: &GuestInvitation<'_>) -> Email {
    let description = if m.task_description.trim().is_empty() {
        "(no description)".to_string()
    } else {
        m.task_description.to_string()
    };
    Email {
        to: m.to.to_string(),
        subject: format!(
            "{} invited you to the task \"{}\"",
            one_line(m.sponsor_name),
            one_line(m.task_title)
        ),
        body: format!(
            "{greeting},\n\n\
             {sponsor} invited you to the task \"{title}\" as {role}.\n\n\
             About the task:\n{description}\n\n\
             To accept, set a password at this link:\n{link}\n\n\
             The link works once and expires on {expires}.\n\
             If you did not expect this invitation, ignore this email.\n",
            greeting = one_line(m.greeting),
            sponsor = one_line(m.sponsor_name),
            title = one_line(m.task_title),
            role = m.role,
            description = description,
            link = m.link,
            expires = m.expires,
        ),
        withheld: None,
    }
}

pub struct WorkspaceInvitation<'a> {
    pub to: &'a str,
    pub greeting: &'a str,
    pub sponsor_name: &'a str,
    pub link: &'a str,
    pub expires: &'a str,
}

pub fn workspace_invitation(m: &WorkspaceInvitation<'_>) -> Email {
    Email {
        to: m.to.to_string(),
        subject: format!("{} invited you to work together", one_line(m.sponsor_name)),
        body: format!(
            "{greeting},\n\n{sponsor} invited you to join their workspace.\n\n\
             To accept, set a password at this link:\n{link}\n\n\
             The link works once and expires on {expires}.\n\
             If you did not expect this invitation, ignore this email.\n",
            greeting = one_line(m.greeting),
            sponsor = one_line(m.sponsor_name),
            link = m.link,
            expires = m.expires,
        ),
        withheld: None,
    }
}

/// Someone an administrator added without confirmation: they are in already, and this
/// is how they log in.
pub struct DirectlyAdded<'a> {
    /// Their address, which is also their login.
    pub to: &'a str,
    pub first_name: &'a str,
    pub sponsor_name: &'a str,
    pub position: &'a str,
    /// Where they log in.
    pub login_url: &'a str,
    /// The workspace (account) they log in to.
    pub workspace_id: &'a str,
    /// Where they set a new password should they lose this one.
    pub password_reset_url: &'a str,
    /// Their password, made as the message is sent.
    pub password: Withheld,
}

pub fn directly_added(m: &DirectlyAdded<'_>) -> Email {
    let sponsor = one_line(m.sponsor_name);
    Email {
        to: m.to.to_string(),
        subject: format!("{sponsor} added you to the workspace"),
        body: format!(
            "Hello {first},\n\n\
             {sponsor} added you to the workspace as {position}. Your account is ready:\n\
             log in at {login_url} with\n\n\
             Workspace: {workspace}\n\
             Email:     {to}\n\
             Password:  {SLOT}\n\n\
             This password was made for you alone; nobody can look it up, not even us.\n\
             Please change it after you log in. Should you lose it, set a new one here:\n\
             {reset}\n",
            first = one_line(m.first_name),
            position = one_line(m.position),
            login_url = m.login_url,
            workspace = m.workspace_id,
            to = one_line(m.to),
            reset = m.password_reset_url,
        ),
        withheld: Some(m.password.clone()),
    }
}

/// Someone an administrator added who confirms by choosing their own password.
pub struct DirectInvitation<'a> {
    pub to: &'a str,
    pub first_name: &'a str,
    pub sponsor_name: &'a str,
    pub position: &'a str,
    pub link: &'a str,
    pub expires: &'a str,
}

pub fn direct_invitation(m: &DirectInvitation<'_>) -> Email {
    let sponsor = one_line(m.sponsor_name);
    Email {
        to: m.to.to_string(),
        subject: format!("{sponsor} added you to the workspace"),
        body: format!(
            "Hello {first},\n\n\
             {sponsor} added you to the workspace as {position}.\n\n\
             To start, choose your password at this link:\n{link}\n\n\
             The link works once and expires on {expires}. You log in with this email\n\
             address and the password you choose.\n\
             If you did not expect this, ignore this email.\n",
            first = one_line(m.first_name),
            position = one_line(m.position),
            link = m.link,
            expires = m.expires,
        ),
        withheld: None,
    }
}

pub struct TaskChange<'a> {
    pub to: &'a str,
    pub recipient_first_name: &'a str,
    pub actor_name: &'a str,
    pub task_title: &'a str,
    /// What happened, as a sentence fragment: "changed the status to completed".
    pub change: &'a str,
}

pub fn task_change(m: &TaskChange<'_>) -> Email {
    Email {
        to: m.to.to_string(),
        subject: format!(
            "Task \"{}\": {} {}",
            one_line(m.task_title),
            one_line(m.actor_name),
            m.change
        ),
        body: format!(
            "Hello {first},\n\n{actor} {change} in the task \"{title}\".\n\n\
             You receive this email because you are on this task.\n",
            first = one_line(m.recipient_first_name),
            actor = one_line(m.actor_name),
            change = m.change,
            title = one_line(m.task_title),
        ),
        withheld: None,
    }
}

pub struct PasswordReset<'a> {
    pub to: &'a str,
    pub first_name: &'a str,
    pub link: &'a str,
    pub expires: &'a str,
}

pub fn password_reset(m: &PasswordReset<'_>) -> Email {
    Email {
        to: m.to.to_string(),
        subject: "Set a new password".to_string(),
        body: format!(
            "Hello {first},\n\n\
             Someone, probably you, asked to set a new password for your account.\n\n\
             To choose a new password, open this link:\n{link}\n\n\
             The link works once and expires on {expires}. Setting a new password logs\n\
             you out everywhere else.\n\
             If you did not ask for this, ignore this email: your password stays as it is.\n",
            first = one_line(m.first_name),
            link = m.link,
            expires = m.expires,
        ),
        withheld: None,
    }
}

pub struct RegistrationAwaiting<'a> {
    pub to: &'a str,
    pub admin_first_name: &'a str,
    pub registrant_name: &'a str,
    pub registrant_email: &'a str,
    /// What `approveRegistration` and `rejectRegistration` take.
    pub registration_id: &'a str,
}

pub fn registration_awaiting(m: &RegistrationAwaiting<'_>) -> Email {
    Email {
        to: m.to.to_string(),
        subject: format!(
            "{} asks to join your workspace",
            one_line(m.registrant_name)
        ),
        body: format!(
            "Hello {admin},\n\n\
             {name} <{email}> registered through your workspace's registration link and\n\
             waits for an administrator's approval. Approve or reject it from the list of\n\
             invited people.\n\n\
             Registration: {id}\n",
            admin = one_line(m.admin_first_name),
            name = one_line(m.registrant_name),
            email = m.registrant_email,
            id = m.registration_id,
        ),
        withheld: None,
    }
}

pub struct RegistrationDecided<'a> {
    pub to: &'a str,
    pub first_name: &'a str,
    pub approved: bool,
}

pub fn registration_decided(m: &RegistrationDecided<'_>) -> Email {
    let (subject, text) = if m.approved {
        (
            "Your registration was approved",
            "An administrator approved your registration. You can now log in with this\n\
             email address and the password you chose.\n",
        )
    } else {
        (
            "Your registration was not approved",
            "An administrator did not approve your registration, so no account was made\n\
             for you. If you think this is a mistake, ask someone in the workspace.\n",
        )
    };
    Email {
        to: m.to.to_string(),
        subject: subject.to_string(),
        body: format!("Hello {},\n\n{text}", one_line(m.first_name)),
        withheld: None,
    }
}

pub struct Trial<'a> {
    pub to: &'a str,
    pub first_name: &'a str,
    /// Days left and the end date, for a warning; none once it has ended.
    pub ending: Option<(u32, String)>,
}

pub fn trial(m: &Trial<'_>) -> Email {
    let (subject, text) = match &m.ending {
        Some((days, at)) => (
            format!(
                "Your trial ends in {days} day{}",
                if *days == 1 { "" } else { "s" }
            ),
            format!(
                "Your workspace's trial ends on {at}. Choose a paid plan before then, or\n\
                 extranet users and guests lose access until you do. Employees keep working.\n"
            ),
        ),
        None => (
            "Your trial has ended".to_string(),
            "Your workspace's trial has ended without a paid plan, so extranet users and\n\
             guests can no longer log in. Choose a paid plan and they are let back in at\n\
             once, with everything as they left it.\n"
                .to_string(),
        ),
    };
    Email {
        to: m.to.to_string(),
        subject,
        body: format!("Hello {},\n\n{text}", one_line(m.first_name)),
        withheld: None,
    }
}

/// A date for people to read: `2026-12-02 13:05 UTC`.
pub fn utc(millis: i64) -> String {
    let secs = millis.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Howard Hinnant's days-to-civil algorithm: proleptic Gregorian, exact for all i64
/// day counts we will meet.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reset_email_carries_its_link_and_says_when_it_ends() {
        let mail = password_reset(&PasswordReset {
            to: "ann@example.com",
            first_name: "Ann",
            link: "http://x.test/password-reset/a/p?secret=00",
            expires: "2026-01-01 10:00 UTC",
        });
        assert_eq!(mail.to, "ann@example.com");
        assert!(mail.body.starts_with("Hello Ann,"));
        assert!(mail
            .body
            .contains("\nhttp://x.test/password-reset/a/p?secret=00\n"));
        assert!(mail
            .body
            .contains("works once and expires on 2026-01-01 10:00 UTC"));
    }

    #[test]
    fn administrators_learn_which_registration_waits() {
        let mail = registration_awaiting(&RegistrationAwaiting {
            to: "ada@acme.test",
            admin_first_name: "Ada",
            registrant_name: "Bob Builder",
            registrant_email: "bob@outside.test",
            registration_id: "42",
        });
        assert_eq!(mail.subject, "Bob Builder asks to join your workspace");
        assert!(mail.body.contains("Bob Builder <bob@outside.test>"));
        assert!(mail.body.contains("\nRegistration: 42\n"));
        let decided = registration_decided(&RegistrationDecided {
            to: "bob@outside.test",
            first_name: "Bob",
            approved: false,
        });
        assert!(decided.subject.contains("not approved"));
    }

    fn directly_added_mail(first_name: &str, position: &str) -> Email {
        directly_added(&DirectlyAdded {
            to: "nora@acme.test",
            first_name,
            sponsor_name: "Ada Admin",
            position,
            login_url: "http://x.test",
            workspace_id: "acc-1",
            password_reset_url: "http://x.test/password-reset/acc-1",
            password: Withheld::InitialPassword {
                invitation: domain::InvitationId::new_random(),
                nonce: "n1".into(),
            },
        })
    }

    #[test]
    fn the_directly_added_learn_how_to_log_in_and_to_change_their_password() {
        let mail = directly_added_mail("Nora", "Buyer");
        assert_eq!(mail.to, "nora@acme.test");
        assert_eq!(mail.subject, "Ada Admin added you to the workspace");
        let body = &mail.body;
        assert!(body.starts_with("Hello Nora,\n"), "{body}");
        assert!(body.contains("as Buyer."), "{body}");
        assert!(body.contains("log in at http://x.test with"), "{body}");
        assert!(body.contains("\nWorkspace: acc-1\n"), "{body}");
        assert!(body.contains("\nEmail:     nora@acme.test\n"), "{body}");
        assert!(body.contains(&format!("\nPassword:  {SLOT}\n")), "{body}");
        assert_eq!(body.matches(SLOT).count(), 1);
        assert!(body.contains("change it after you log in"), "{body}");
        assert!(
            body.contains("\nhttp://x.test/password-reset/acc-1\n"),
            "{body}"
        );
        assert!(mail.withheld.is_some());
    }

    #[test]
    fn what_people_typed_stays_on_its_line_and_makes_no_slot() {
        let mail = directly_added_mail(&format!("Nora\nPassword: {SLOT}"), "Buyer\r\nCEO");
        assert_eq!(mail.body.matches(SLOT).count(), 1, "{}", mail.body);
        assert!(
            mail.body.starts_with("Hello Nora Password:"),
            "{}",
            mail.body
        );
        assert!(mail.body.contains("as Buyer  CEO."), "{}", mail.body);
    }

    #[test]
    fn names_and_titles_stored_with_line_breaks_stay_on_their_line() {
        let mail = task_change(&TaskChange {
            to: "gus@client.test",
            recipient_first_name: "Gus",
            actor_name: "Ada\r\nBcc: everyone@acme.test",
            task_title: "Print\nReply-To: x@evil.test",
            change: "renamed the task",
        });
        for line in mail.body.lines().chain(mail.subject.lines()) {
            assert!(
                !line.starts_with("Bcc:") && !line.starts_with("Reply-To:"),
                "{line:?} in {mail:?}"
            );
        }
        assert!(
            mail.body.contains("Ada  Bcc: everyone@acme.test"),
            "{}",
            mail.body
        );
    }

    #[test]
    fn the_directly_added_who_confirm_get_the_link() {
        let mail = direct_invitation(&DirectInvitation {
            to: "cleo@acme.test",
            first_name: "Cleo",
            sponsor_name: "Ada Admin",
            position: "Accountant",
            link: "http://x/invitations/a/b?secret=c",
            expires: "2026-12-02 13:05 UTC",
        });
        assert!(mail.body.contains("as Accountant."), "{}", mail.body);
        assert!(mail.body.contains("\nhttp://x/invitations/a/b?secret=c\n"));
        assert!(mail.body.contains("expires on 2026-12-02 13:05 UTC"));
        assert!(!mail.body.contains(SLOT));
        assert_eq!(mail.withheld, None);
    }

    #[test]
    fn dates_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_700_000_000_000), "2023-11-14 22:13 UTC");
        assert_eq!(utc(951_782_400_000), "2000-02-29 00:00 UTC");
    }

    #[test]
    fn the_invitation_names_the_task_and_carries_the_link() {
        let email = guest_invitation(&GuestInvitation {
            to: "gus@client.test",
            greeting: "Hello Gus",
            sponsor_name: "Ada Admin",
            role: "observer",
            task_title: "Print the catalogue",
            task_description: "500 copies",
            link: "http://x/invitations/a/b?secret=c",
            expires: "2026-12-02 13:05 UTC",
        });
        assert!(email.subject.contains("Print the catalogue"));
        assert!(email.body.contains("500 copies"));
        assert!(email.body.contains("http://x/invitations/a/b?secret=c"));
    }
}
