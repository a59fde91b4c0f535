//! The write-back recipes of PRODUCT.md section 4: which deliveries an event causes on a
//! connection (routing's half) and what each delivery step writes (the `deliver` job's half).

use crate::deliver::{Outcome, StepError, Writer};

/// Runs the step of `w.delivery`.
pub async fn run_step(w: &mut Writer<'_>) -> Result<Outcome, StepError> {
    Err(StepError::invalid(
        "step",
        format!(
            "this release does not know the delivery step {:?}",
            w.delivery.step
        ),
    ))
}
