//! The lab's demo directory: one user of each kind. The Exchange backends
//! check NTLM against it; pre-authentication will use it once it lands.

/// One demo account.
#[derive(Debug)]
pub struct User {
    pub name: &'static str,
    pub password: &'static str,
    pub kind: &'static str,
    pub groups: &'static [&'static str],
    /// Locked accounts fail every sign-in.
    pub locked: bool,
}

pub const USERS: &[User] = &[
    User {
        name: "alice",
        password: "alice-lab-1",
        kind: "employee",
        groups: &["employees"],
        locked: false,
    },
    User {
        name: "admin",
        password: "admin-lab-1",
        kind: "admin",
        groups: &["employees", "admins"],
        locked: false,
    },
    User {
        name: "pat",
        password: "pat-lab-1",
        kind: "partner",
        groups: &["partners"],
        locked: false,
    },
    User {
        name: "mallory",
        password: "mallory-lab-1",
        kind: "locked",
        groups: &["employees"],
        locked: true,
    },
];

pub fn user(kind: &str) -> &'static User {
    USERS.iter().find(|u| u.kind == kind).expect("every kind has a user")
}
