//! NTLMSSP as IIS speaks it on Exchange's /rpc, /mapi and /ews, small but
//! real: NEGOTIATE → CHALLENGE → AUTHENTICATE with an NTLMv2 response,
//! checked against the demo directory's passwords. NTLM authenticates the
//! connection, so an AUTHENTICATE that arrives on a connection that was not
//! sent the CHALLENGE is refused: that is what a gateway that does not pin
//! connections gets wrong. The client half is the drive's, for the
//! negative case (curl does the positive one).

use base64::Engine;
use hmac::{KeyInit, Mac};
use md4::Digest;

use super::directory::User;

type HmacMd5 = hmac::Hmac<md5::Md5>;

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
const FLAGS: u32 = 0x0000_0001 // unicode
    | 0x0000_0004 // request target
    | 0x0000_0200 // NTLM
    | 0x0000_8000 // always sign
    | 0x0001_0000 // target type domain
    | 0x0008_0000 // extended session security
    | 0x0080_0000 // target info
    | 0x2000_0000 // 128-bit
    | 0x8000_0000; // 56-bit

/// The NTLM state of one client connection, as IIS keeps it.
#[derive(Default, Debug)]
pub struct ConnAuth {
    challenge: Option<[u8; 8]>,
    /// The user the connection authenticated as.
    pub user: Option<String>,
}

/// What one request's `Authorization` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this CHALLENGE (base64) in `WWW-Authenticate: NTLM ...`.
    Challenge(String),
    /// Authenticated as this user.
    Authenticated(String),
    /// Refused, and why (goes in `x-lab-ntlm`).
    Refused(&'static str),
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut mac = HmacMd5::new_from_slice(key).expect("HMAC takes any key");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// NTOWFv2: HMAC-MD5(MD4(UTF-16LE(password)), UTF-16LE(UPPER(user) + domain)).
fn ntowf_v2(user: &str, domain: &str, password: &str) -> [u8; 16] {
    let nt: [u8; 16] = md4::Md4::digest(utf16(password)).into();
    hmac_md5(&nt, &[&utf16(&format!("{}{domain}", user.to_uppercase()))])
}

fn u16_at(b: &[u8], i: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(i..i + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], i: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?))
}

/// A security buffer (len, maxlen, offset) at `i`.
fn field(b: &[u8], i: usize) -> Option<&[u8]> {
    let len = usize::from(u16_at(b, i)?);
    let off = usize::try_from(u32_at(b, i + 4)?).ok()?;
    b.get(off..off.checked_add(len)?)
}

fn text(b: &[u8]) -> String {
    let units: Vec<u16> = b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
    String::from_utf16_lossy(&units)
}

/// The CHALLENGE message for `challenge`.
pub fn challenge_message(challenge: [u8; 8]) -> Vec<u8> {
    let target = utf16("CONTOSO");
    let mut info = Vec::new();
    for (id, value) in [(2u16, utf16("CONTOSO")), (1, utf16("LAB")), (4, utf16("contoso.com"))] {
        info.extend_from_slice(&id.to_le_bytes());
        info.extend_from_slice(&(value.len() as u16).to_le_bytes());
        info.extend_from_slice(&value);
    }
    info.extend_from_slice(&[0, 0, 0, 0]); // MsvAvEOL
    let mut m = Vec::new();
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&2u32.to_le_bytes());
    let target_off = 48u32;
    m.extend_from_slice(&(target.len() as u16).to_le_bytes());
    m.extend_from_slice(&(target.len() as u16).to_le_bytes());
    m.extend_from_slice(&target_off.to_le_bytes());
    m.extend_from_slice(&FLAGS.to_le_bytes());
    m.extend_from_slice(&challenge);
    m.extend_from_slice(&[0; 8]);
    let info_off = target_off + target.len() as u32;
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&(info.len() as u16).to_le_bytes());
    m.extend_from_slice(&info_off.to_le_bytes());
    m.extend_from_slice(&target);
    m.extend_from_slice(&info);
    m
}

impl ConnAuth {
    /// One `Authorization` header value on this connection.
    pub fn step(&mut self, header: &str, users: &[User], random: impl FnOnce() -> [u8; 8]) -> Step {
        let Some(b64) = header
            .strip_prefix("NTLM ")
            .or_else(|| header.strip_prefix("Negotiate "))
        else {
            return Step::Refused("not-ntlm");
        };
        let Ok(msg) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else {
            return Step::Refused("bad-base64");
        };
        if msg.get(..8) != Some(SIGNATURE) {
            return Step::Refused("not-ntlmssp");
        }
        match u32_at(&msg, 8) {
            Some(1) => {
                let c = random();
                self.challenge = Some(c);
                self.user = None;
                Step::Challenge(base64::engine::general_purpose::STANDARD.encode(challenge_message(c)))
            }
            Some(3) => {
                // The challenge is this connection's, and used once.
                let Some(challenge) = self.challenge.take() else {
                    return Step::Refused("authenticate-without-challenge-on-this-connection");
                };
                match verify_authenticate(&msg, challenge, users) {
                    Ok(user) => {
                        self.user = Some(user.clone());
                        Step::Authenticated(user)
                    }
                    Err(why) => Step::Refused(why),
                }
            }
            _ => Step::Refused("unexpected-message"),
        }
    }
}

fn verify_authenticate(msg: &[u8], challenge: [u8; 8], users: &[User]) -> Result<String, &'static str> {
    let nt = field(msg, 20).ok_or("malformed")?;
    let domain = text(field(msg, 28).ok_or("malformed")?);
    let user = text(field(msg, 36).ok_or("malformed")?);
    if nt.len() <= 24 {
        return Err("ntlmv1-refused");
    }
    let account = users
        .iter()
        .find(|u| u.name.eq_ignore_ascii_case(&user))
        .ok_or("unknown-user")?;
    let (proof, blob) = nt.split_at(16);
    let key = ntowf_v2(&user, &domain, account.password);
    if hmac_md5(&key, &[&challenge, blob]) != proof {
        return Err("wrong-password");
    }
    if account.locked {
        return Err("account-locked");
    }
    Ok(account.name.to_string())
}

/// The client's NEGOTIATE message, base64.
pub fn negotiate() -> String {
    let mut m = Vec::new();
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&1u32.to_le_bytes());
    m.extend_from_slice(&FLAGS.to_le_bytes());
    m.extend_from_slice(&[0; 16]);
    base64::engine::general_purpose::STANDARD.encode(m)
}

/// The client's AUTHENTICATE message (NTLMv2) answering a CHALLENGE (base64).
pub fn authenticate(challenge_b64: &str, user: &str, domain: &str, password: &str) -> Option<String> {
    let c = base64::engine::general_purpose::STANDARD.decode(challenge_b64).ok()?;
    let challenge: [u8; 8] = c.get(24..32)?.try_into().ok()?;
    let info = field(&c, 40)?.to_vec();
    let mut blob = vec![1, 1, 0, 0, 0, 0, 0, 0];
    blob.extend_from_slice(&[0; 8]); // timestamp
    blob.extend_from_slice(&[7; 8]); // client nonce
    blob.extend_from_slice(&[0; 4]);
    blob.extend_from_slice(&info);
    blob.extend_from_slice(&[0; 4]);
    let key = ntowf_v2(user, domain, password);
    let mut nt = hmac_md5(&key, &[&challenge, &blob]).to_vec();
    nt.extend_from_slice(&blob);
    let (d, u, w) = (utf16(domain), utf16(user), utf16("DRIVE"));
    let mut m = Vec::new();
    m.extend_from_slice(SIGNATURE);
    m.extend_from_slice(&3u32.to_le_bytes());
    let mut offset = 64u32;
    let mut payload = Vec::new();
    for part in [&[0u8; 24][..], &nt, &d, &u, &w, &[][..]] {
        m.extend_from_slice(&(part.len() as u16).to_le_bytes());
        m.extend_from_slice(&(part.len() as u16).to_le_bytes());
        m.extend_from_slice(&offset.to_le_bytes());
        offset += part.len() as u32;
        payload.extend_from_slice(part);
    }
    m.extend_from_slice(&FLAGS.to_le_bytes());
    m.extend_from_slice(&payload);
    Some(base64::engine::general_purpose::STANDARD.encode(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::lab::directory::USERS;

    #[test]
    fn ntowf_v2_matches_the_ms_nlmp_test_vector() {
        // MS-NLMP 4.2.4.1.1: User "User", domain "Domain", password "Password".
        let want = [
            0x0c, 0x86, 0x8a, 0x40, 0x3b, 0xfd, 0x7a, 0x93, 0xa3, 0x00, 0x1e, 0xf2, 0x2e, 0xf0, 0x2e, 0x3f,
        ];
        assert_eq!(ntowf_v2("User", "Domain", "Password"), want);
    }

    #[test]
    fn a_handshake_on_one_connection_authenticates_and_a_second_connection_is_refused() {
        let mut conn = ConnAuth::default();
        let Step::Challenge(c) = conn.step(&format!("NTLM {}", negotiate()), USERS, || [9; 8]) else {
            panic!("no challenge")
        };
        let auth = authenticate(&c, "alice", "CONTOSO", "alice-lab-1").unwrap();
        // The same AUTHENTICATE on another connection: no challenge there.
        let mut other = ConnAuth::default();
        assert_eq!(
            other.step(&format!("NTLM {auth}"), USERS, || [1; 8]),
            Step::Refused("authenticate-without-challenge-on-this-connection")
        );
        assert_eq!(
            conn.step(&format!("NTLM {auth}"), USERS, || [1; 8]),
            Step::Authenticated("alice".into())
        );
        // Used once.
        assert!(matches!(
            conn.step(&format!("NTLM {auth}"), USERS, || [1; 8]),
            Step::Refused(_)
        ));
    }

    #[test]
    fn wrong_password_and_locked_accounts_are_refused() {
        for (user, pass, why) in [
            ("alice", "nope", "wrong-password"),
            ("mallory", "mallory-lab-1", "account-locked"),
        ] {
            let mut conn = ConnAuth::default();
            let Step::Challenge(c) = conn.step(&format!("NTLM {}", negotiate()), USERS, || [3; 8]) else {
                panic!()
            };
            let auth = authenticate(&c, user, "", pass).unwrap();
            assert_eq!(conn.step(&format!("NTLM {auth}"), USERS, || [0; 8]), Step::Refused(why));
        }
    }
}
