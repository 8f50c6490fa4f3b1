//! Running a write again when the database gave it up for a concurrent one (a PostgreSQL
//! deadlock or serialization failure): the store's transactions are all-or-nothing, so a
//! contended one stored nothing and is safe to repeat. A member sees an answer, not a 500.

use std::time::Duration;

use store::StoreError;

/// How many times a contended write is tried in all.
const ATTEMPTS: u32 = 5;

/// Runs `write` until it succeeds, fails otherwise, or was contended [`ATTEMPTS`] times, with a
/// short random pause between tries so that the transactions that collided do not collide again.
pub async fn contended<T, F, Fut>(mut write: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let mut attempt = 1;
    loop {
        match write().await {
            Err(error) if error.is_contended() && attempt < ATTEMPTS => {
                tracing::warn!(attempt, "a write gave way to a concurrent one; trying again");
                let pause = rand::random_range(5..25) * u64::from(attempt);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    fn deadlock() -> StoreError {
        StoreError::Contended(sea_orm_free_error())
    }

    /// A database error as PostgreSQL reports a deadlock.
    fn sea_orm_free_error() -> store::DbErr {
        store::DbErr::Custom("deadlock detected".to_owned())
    }

    #[tokio::test]
    async fn a_contended_write_is_tried_again_and_other_errors_are_not() {
        let tries = AtomicU32::new(0);
        let result =
            contended(|| async { if tries.fetch_add(1, Ordering::SeqCst) < 2 { Err(deadlock()) } else { Ok(7) } })
                .await;
        assert_eq!((result.ok(), tries.load(Ordering::SeqCst)), (Some(7), 3));

        let tries = AtomicU32::new(0);
        let result: Result<(), _> = contended(|| async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::NotFound)
        })
        .await;
        assert!(matches!(result, Err(StoreError::NotFound)) && tries.load(Ordering::SeqCst) == 1);

        let tries = AtomicU32::new(0);
        let result: Result<(), _> = contended(|| async {
            tries.fetch_add(1, Ordering::SeqCst);
            Err(deadlock())
        })
        .await;
        assert!(result.is_err_and(|e| e.is_contended()));
        assert_eq!(tries.load(Ordering::SeqCst), ATTEMPTS, "bounded");
    }
}
