//! Request signatures of the vendors' APIs: pure functions, tested with the documents' vectors.

use md5::{Digest, Md5};

/// Lower-case hex MD5 of the concatenated parts.
pub(crate) fn md5_hex(parts: &[&str]) -> String {
    let mut hasher = Md5::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut out = String::with_capacity(32);
    for byte in digest.iter() {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    out
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Laaffic `Sign` header: `md5(ApiKey + ApiSecret + Timestamp)`, `Timestamp` in seconds.
pub fn laaffic_sign(api_key: &str, api_secret: &str, timestamp: &str) -> String {
    md5_hex(&[api_key, api_secret, timestamp])
}

/// Sobot `get_token` sign: `md5(appid + create_time + app_key)`, `create_time` in seconds.
pub fn sobot_token_sign(app_id: &str, create_time: &str, app_key: &str) -> String {
    md5_hex(&[app_id, create_time, app_key])
}

/// Sobot platform `token` of getTenantList (and of the tenant and staff write calls, which the
/// exporter does not make): `MD5(unionCode + ts + email + unionKey)`, `ts` in milliseconds, `email`
/// the platform's super-admin mailbox.
pub fn platform_email_token(union_code: &str, ts: &str, email: &str, union_key: &str) -> String {
    md5_hex(&[union_code, ts, email, union_key])
}

/// Sobot platform signature without the email: `MD5(unionCode + ts + unionKey)`.
///
/// The document gives this formula for the `token` of getStaffLogInfos (`ts` in milliseconds).
/// getBatchAppKey and tenantStaffJobList send a `sign` and give no formula; their examples carry a
/// `ts` in seconds, and the natural reading is this same formula over that `ts`. The caller
/// chooses the unit; the formula is the same.
pub fn platform_sign(union_code: &str, ts: &str, union_key: &str) -> String {
    md5_hex(&[union_code, ts, union_key])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sobot_vector_from_the_document() {
        // sobot-online-statistics.md §2.1: appid "1", create_time "1569397773", app_key "2".
        assert_eq!(sobot_token_sign("1", "1569397773", "2"), "258eec3118705112b2c53dc8043d4d34");
    }

    #[test]
    fn laaffic_vector_from_the_shared_readme() {
        // The document's example request: Api-Key bDqJFiq9, Timestamp 1630468800.
        assert_eq!(laaffic_sign("bDqJFiq9", "7bz1lzh9", "1630468800"), "05d7a50893e22a5c4bb3216ae3396c7c");
    }

    #[test]
    fn platform_vectors() {
        // Computed independently: python3 -c 'import hashlib; print(hashlib.md5(b"...").hexdigest())'.
        assert_eq!(
            platform_email_token("10004", "1589340090280", "admin@example.com", "UnionKey-9d2f"),
            "36b725f110415eb0a3072d188d9e596c"
        );
        // getBatchAppKey and tenantStaffJobList: ts in seconds, as their examples show.
        assert_eq!(platform_sign("10004", "1569397773", "UnionKey-9d2f"), "7bbdb758e3d83447a8b349f03a863265");
        // getStaffLogInfos: ts in milliseconds.
        assert_eq!(
            platform_sign("10004", "1571037571921", "UnionKey-9d2f"),
            "14ffb585096a264dbc5eb1bea107c3d3"
        );
        assert_eq!(
            platform_email_token("10004", "1569397773", "", "UnionKey-9d2f"),
            platform_sign("10004", "1569397773", "UnionKey-9d2f"),
            "plain concatenation, no separators"
        );
    }

    #[test]
    fn md5_of_nothing() {
        assert_eq!(md5_hex(&[]), "d41d8cd98f00b204e9800998ecf8427e");
    }
}
