//! `kata-runtime version`.

/// The commit this binary was built from, when the build set `KATA_GIT_COMMIT`.
pub const COMMIT: Option<&str> = option_env!("KATA_GIT_COMMIT");

/// The lines `kata-runtime version` prints.
pub fn lines(config_api_version: &str) -> Vec<String> {
    vec![
        format!("kata-runtime  : {}", env!("CARGO_PKG_VERSION")),
        format!("   commit     : {}", COMMIT.unwrap_or("unknown")),
        format!("   config API : {config_api_version}"),
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_version_commit_and_api() {
        let l = super::lines("9.9");
        assert!(l[0].contains(env!("CARGO_PKG_VERSION")));
        assert!(l[1].contains("commit"));
        assert!(l[2].ends_with("9.9"));
    }
}
