//! Fuzz target: the token answer and the result code of every statistics answer, mutated from
//! the documents' examples.

use proptest::prelude::*;

use super::*;
use crate::fuzz;

const SEEDS: &[&str] = &[
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sobot/get_token.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sobot/robot_session.json")),
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/sobot/call_result.json")),
];

fn token_answer(bytes: &[u8]) -> Result<(), TestCaseError> {
    let Some(body) = fuzz::json(bytes) else { return Ok(()) };
    let ok = match body.get("ret_code") {
        Some(Value::String(s)) => s == OK,
        Some(Value::Number(n)) => n.as_u64() == Some(0),
        _ => false,
    };
    let body = match check_ret_code(body) {
        Ok(body) => body,
        Err(e) => {
            prop_assert!(!ok, "a success answer refused: {e}");
            fuzz::check_code_label(&e)?;
            prop_assert!(e.to_string().chars().count() < 400, "a long error: {e}");
            return Ok(());
        }
    };
    prop_assert!(ok, "an answer without ret_code 000000 taken as success");
    let item = body.get("item");
    let token = item.and_then(|i| i.get("token")).and_then(Value::as_str).filter(|t| !t.is_empty());
    match parse_token(&body) {
        Ok((secret, lifetime)) => {
            prop_assert_eq!(Some(secret.expose()), token);
            // Never zero and never beyond the documented day: a huge expires_in cannot overflow the clock.
            prop_assert!(
                lifetime > Duration::ZERO && lifetime <= DOCUMENTED_TOKEN_LIFETIME,
                "{:?}",
                lifetime
            );
            let expires_in = fuzz::model_u64(item.and_then(|i| i.get("expires_in"))).filter(|s| *s > 0);
            let want = expires_in.map_or(DOCUMENTED_TOKEN_LIFETIME, |s| Duration::from_secs(s.min(86_400)));
            prop_assert_eq!(lifetime, want);
            let now = Instant::now();
            prop_assert!(now.checked_add(lifetime).is_some());
        }
        Err(e) => {
            prop_assert!(token.is_none(), "a token refused: {e}");
            prop_assert_eq!(e.code_label(), "invalid_response");
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(fuzz::cases(3000))]

    #[test]
    fn token_and_result_code_answers((_, bytes) in fuzz::answer(SEEDS)) {
        token_answer(&bytes)?;
    }
}
