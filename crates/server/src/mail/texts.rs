//! What the mails and the account pages say, in each language Roster writes (English and
//! German: Contabo's locales are `en`, `en-US`, `de`, `de-DE`). Placeholders in braces are
//! filled in by the caller; the templates escape the result.

use roster_core::secret::PasswordProblem;
use roster_core::User;
use roster_store::LinkPurpose;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
}

impl Lang {
    /// The language of a locale or language tag (`de`, `de-DE`, `de_AT`); English for any
    /// other.
    pub fn of_tag(tag: &str) -> Option<Lang> {
        let primary = tag
            .trim()
            .split(['-', '_'])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        match primary.as_str() {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The user's locale, else their preferredLanguage, else English.
    pub fn of_user(user: &User) -> Lang {
        let preferred = roster_core::user::profile_index("preferredLanguage")
            .and_then(|i| user.profile.get(i))
            .and_then(Option::as_deref);
        [user.locale.as_deref(), preferred]
            .into_iter()
            .flatten()
            .find_map(Lang::of_tag)
            .unwrap_or(Lang::En)
    }

    /// The first language of an `Accept-Language` header Roster writes (for pages that know
    /// no user: an unknown link).
    pub fn of_accept(header: Option<&str>) -> Lang {
        header
            .unwrap_or("")
            .split(',')
            .filter_map(|part| Lang::of_tag(part.split(';').next().unwrap_or("")))
            .next()
            .unwrap_or(Lang::En)
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }
}

/// One mail's wording.
#[derive(Debug, Clone, serde::Serialize)]
pub struct MailTexts {
    pub subject: &'static str,
    pub greeting: String,
    pub intro: String,
    pub action: &'static str,
    pub validity: String,
    pub ignore: &'static str,
    pub signature: &'static str,
}

/// The mail of a link to `user` at `email`, valid until `until` (formatted).
pub fn mail(lang: Lang, purpose: LinkPurpose, user: &User, email: &str, until: &str) -> MailTexts {
    let name = user
        .given_name
        .as_deref()
        .or(user.display_name.as_deref())
        .unwrap_or(user.user_name.as_str());
    let fill = |s: &str| {
        s.replace("{name}", name)
            .replace("{login}", user.user_name.as_str())
            .replace("{email}", email)
            .replace("{until}", until)
    };
    let (subject, intro, action, ignore) = match (lang, purpose) {
        (Lang::En, LinkPurpose::PasswordReset) => (
            "Reset your password",
            "Someone asked to reset the password of your account {login}. Open this link to choose a new one:",
            "Choose a new password",
            "If you did not ask for this, ignore this mail: your password stays as it is.",
        ),
        (Lang::De, LinkPurpose::PasswordReset) => (
            "Setzen Sie Ihr Passwort zurück",
            "Für Ihr Konto {login} wurde das Zurücksetzen des Passworts angefordert. Öffnen Sie diesen Link, um ein neues Passwort zu wählen:",
            "Neues Passwort wählen",
            "Wenn Sie das nicht angefordert haben, ignorieren Sie diese E-Mail: Ihr Passwort bleibt unverändert.",
        ),
        (Lang::En, LinkPurpose::EmailVerification) => (
            "Confirm your email address",
            "Please confirm that {email} is your address by opening this link:",
            "Confirm my address",
            "If you did not expect this mail, ignore it.",
        ),
        (Lang::De, LinkPurpose::EmailVerification) => (
            "Bestätigen Sie Ihre E-Mail-Adresse",
            "Bitte bestätigen Sie, dass {email} Ihre Adresse ist, indem Sie diesen Link öffnen:",
            "Adresse bestätigen",
            "Falls Sie diese E-Mail nicht erwartet haben, ignorieren Sie sie einfach.",
        ),
    };
    let (greeting, validity, signature) = match lang {
        Lang::En => (
            "Hello {name},",
            "The link works once and expires at {until}.",
            "Roster directory",
        ),
        Lang::De => (
            "Hallo {name},",
            "Der Link funktioniert einmal und läuft am {until} ab.",
            "Roster-Verzeichnis",
        ),
    };
    MailTexts {
        subject,
        greeting: fill(greeting),
        intro: fill(intro),
        action,
        validity: fill(validity),
        ignore,
        signature,
    }
}

/// What an account page says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageText {
    ResetTitle,
    VerifyTitle,
    NewPassword,
    Repeat,
    Submit,
    /// `{min}`: the shortest length.
    Hint,
    /// `{login}`.
    Account,
    PasswordSet,
    /// `{email}`.
    Verified,
    LinkUnknown,
    LinkExpired,
    LinkSpent,
    Mismatch,
    FormExpired,
    ErrorTitle,
}

pub fn page(lang: Lang, text: PageText) -> &'static str {
    use PageText::*;
    match (lang, text) {
        (Lang::En, ResetTitle) => "Choose a new password",
        (Lang::De, ResetTitle) => "Neues Passwort wählen",
        (Lang::En, VerifyTitle) => "Email address confirmed",
        (Lang::De, VerifyTitle) => "E-Mail-Adresse bestätigt",
        (Lang::En, NewPassword) => "New password",
        (Lang::De, NewPassword) => "Neues Passwort",
        (Lang::En, Repeat) => "Repeat the new password",
        (Lang::De, Repeat) => "Neues Passwort wiederholen",
        (Lang::En, Submit) => "Set password",
        (Lang::De, Submit) => "Passwort setzen",
        (Lang::En, Hint) => {
            "At least {min} characters, and not your user name or email address."
        }
        (Lang::De, Hint) => {
            "Mindestens {min} Zeichen, und nicht Ihr Benutzername oder Ihre E-Mail-Adresse."
        }
        (Lang::En, Account) => "Account: {login}",
        (Lang::De, Account) => "Konto: {login}",
        (Lang::En, PasswordSet) => {
            "Your password has been changed. You can sign in with it now."
        }
        (Lang::De, PasswordSet) => {
            "Ihr Passwort wurde geändert. Sie können sich jetzt damit anmelden."
        }
        (Lang::En, Verified) => "Thank you: {email} is confirmed as your address.",
        (Lang::De, Verified) => "Danke: {email} ist als Ihre Adresse bestätigt.",
        (Lang::En, LinkUnknown) => {
            "This link is not valid. Check that you opened the whole link from the mail, or ask for a new one."
        }
        (Lang::De, LinkUnknown) => {
            "Dieser Link ist ungültig. Prüfen Sie, ob Sie den vollständigen Link aus der E-Mail geöffnet haben, oder fordern Sie einen neuen an."
        }
        (Lang::En, LinkExpired) => "This link has expired. Ask for a new one.",
        (Lang::De, LinkExpired) => "Dieser Link ist abgelaufen. Fordern Sie einen neuen an.",
        (Lang::En, LinkSpent) => {
            "This link has been used already, or a newer one was sent. Ask for a new one if you need it."
        }
        (Lang::De, LinkSpent) => {
            "Dieser Link wurde bereits verwendet, oder ein neuerer wurde verschickt. Fordern Sie bei Bedarf einen neuen an."
        }
        (Lang::En, Mismatch) => "The two passwords differ.",
        (Lang::De, Mismatch) => "Die beiden Passwörter stimmen nicht überein.",
        (Lang::En, FormExpired) => {
            "This form has expired. Open the link from your mail again."
        }
        (Lang::De, FormExpired) => {
            "Dieses Formular ist abgelaufen. Öffnen Sie den Link aus Ihrer E-Mail erneut."
        }
        (Lang::En, ErrorTitle) => "This link cannot be used",
        (Lang::De, ErrorTitle) => "Dieser Link kann nicht verwendet werden",
    }
}

/// A refused password, worded for the page.
pub fn password_problem(lang: Lang, p: PasswordProblem) -> String {
    match (lang, p) {
        (Lang::En, p) => {
            let mut s = p.to_string();
            if let Some(first) = s.get_mut(..1) {
                first.make_ascii_uppercase();
            }
            s + "."
        }
        (Lang::De, PasswordProblem::TooShort { min }) => {
            format!("Das Passwort muss mindestens {min} Zeichen haben.")
        }
        (Lang::De, PasswordProblem::TooLong { max }) => {
            format!("Das Passwort darf höchstens {max} Zeichen haben.")
        }
        (Lang::De, PasswordProblem::OwnName) => {
            "Das Passwort darf nicht Ihr Benutzername oder Ihre E-Mail-Adresse sein.".to_owned()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_from_tags_and_headers() {
        assert_eq!(Lang::of_tag("de-DE"), Some(Lang::De));
        assert_eq!(Lang::of_tag("de"), Some(Lang::De));
        assert_eq!(Lang::of_tag("DE_at"), Some(Lang::De));
        assert_eq!(Lang::of_tag("en-US"), Some(Lang::En));
        assert_eq!(Lang::of_tag("fr"), None);
        assert_eq!(Lang::of_accept(Some("fr-FR, de;q=0.8, en;q=0.5")), Lang::De);
        assert_eq!(Lang::of_accept(Some("fr")), Lang::En);
        assert_eq!(Lang::of_accept(None), Lang::En);
    }

    #[test]
    fn problems_are_worded_per_language() {
        let p = PasswordProblem::TooShort { min: 12 };
        assert_eq!(
            password_problem(Lang::En, p),
            "Password must have at least 12 characters."
        );
        assert!(password_problem(Lang::De, p).contains("mindestens 12"));
    }
}
