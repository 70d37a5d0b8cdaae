//! `kata-runtime factory`: placeholder until the VMCache server exists.

use crate::cli::FactoryAction;

/// Exit code of a command that exists but is not implemented yet.
pub const NOT_IMPLEMENTED: u8 = 2;

/// Prints that `action` is not implemented yet and returns the exit code.
pub fn run(action: FactoryAction) -> u8 {
    let name = match action {
        FactoryAction::Init => "init",
        FactoryAction::Status => "status",
        FactoryAction::Destroy => "destroy",
    };
    eprintln!("kata-runtime factory {name}: not implemented yet");
    NOT_IMPLEMENTED
}
