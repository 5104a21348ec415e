//! placeholder
use std::process::ExitCode;
pub fn web(_args: &[String]) -> anyhow::Result<ExitCode> {
    todo!()
}
