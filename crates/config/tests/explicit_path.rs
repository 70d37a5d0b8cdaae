//! `Config::load` with an explicit path (the shim's `ConfigPath` runtime option) against the
//! `KATA_CONF_FILE` environment variable. Its own test binary: it sets the variable.

mod common;

use common::*;
use kata_config::{defaults::CONFIG_ENV, Config, ConfigError};

#[test]
fn explicit_path_wins_over_env_and_a_missing_one_is_an_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let explicit = dir.path().join("explicit.toml");
    let env = dir.path().join("env.toml");
    std::fs::write(&explicit, qemu("kernel_params = \"from=explicit\"")).expect("write");
    std::fs::write(&env, qemu("kernel_params = \"from=env\"")).expect("write");
    std::env::set_var(CONFIG_ENV, &env);

    let from = |c: &Config| c.hypervisor.user_kernel_params.to_string();
    let loaded = Config::load(Some(&explicit), &host()).expect("explicit");
    assert_eq!(from(&loaded.config), "from=explicit");
    assert_eq!(loaded.source, explicit.canonicalize().expect("canon"));
    let loaded = Config::load(None, &host()).expect("env");
    assert_eq!(from(&loaded.config), "from=env");

    let missing = dir.path().join("missing.toml");
    let err = Config::load(Some(&missing), &host()).expect_err("missing");
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("missing.toml"), "{err}");

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[hypervisor.qemu\n").expect("write");
    let err = Config::load(Some(&broken), &host()).expect_err("broken");
    assert!(err.to_string().contains("broken.toml"), "{err}");
    std::env::remove_var(CONFIG_ENV);
}
