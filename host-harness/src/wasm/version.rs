//! Which version of the contract a component was built against, read from
//! the names of its imports and exports before anything is linked, so a
//! component built for a version the host does not serve is refused with
//! one line rather than a link error.

use std::fmt;

use anyhow::{anyhow, bail};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The contract's package name.
pub const PACKAGE: &str = "checkstack:automation";

/// A version of the contract the host serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractVersion {
    /// `0.2.x`, served through the frozen `wit/since_v0.2.0`.
    V0_2,
    /// `0.3.x`, the current contract.
    V0_3,
}

/// Every version the host serves, oldest first.
pub const SERVED: &[ContractVersion] = &[ContractVersion::V0_2, ContractVersion::V0_3];

impl ContractVersion {
    /// The version's compatibility track (`0.3.x`): a 0.x package's minor.
    pub fn track(self) -> &'static str {
        match self {
            ContractVersion::V0_2 => "0.2.x",
            ContractVersion::V0_3 => "0.3.x",
        }
    }

    /// The served version on the track of `version`, when there is one.
    fn for_version(version: &str) -> Option<Self> {
        let mut parts = version.split('.');
        match (parts.next(), parts.next()) {
            (Some("0"), Some("2")) => Some(ContractVersion::V0_2),
            (Some("0"), Some("3")) => Some(ContractVersion::V0_3),
            _ => None,
        }
    }
}

impl fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.track())
    }
}

/// The served tracks, for messages: `0.2.x, 0.3.x`.
fn served_list() -> String {
    SERVED
        .iter()
        .map(|version| version.track())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The contract version `component` was built against, as the served
/// track and as the component names it (`0.3.0`): every contract
/// interface it imports or exports must name the same version, and the
/// host must serve it.
pub fn contract_version(
    engine: &Engine,
    component: &Component,
) -> anyhow::Result<(ContractVersion, String)> {
    let ty = component.component_type();
    let names = ty
        .imports(engine)
        .map(|(name, _)| name.to_owned())
        .chain(ty.exports(engine).map(|(name, _)| name.to_owned()));
    let mut versions: Vec<String> = names
        .filter_map(|name| {
            let rest = name.strip_prefix(PACKAGE)?.strip_prefix('/')?;
            rest.split_once('@').map(|(_, version)| version.to_owned())
        })
        .collect();
    versions.sort();
    versions.dedup();
    match versions.as_slice() {
        [] => bail!(
            "the component neither imports nor exports {PACKAGE}: it is not an automation plugin"
        ),
        [version] => ContractVersion::for_version(version)
            .map(|served| (served, version.clone()))
            .ok_or_else(|| {
            anyhow!(
                "plugin built for {PACKAGE}@{version}; this host serves {} (rebuild the plugin against one of them; see wit/README.md)",
                served_list()
            )
        }),
        several => bail!(
            "plugin built against several versions of {PACKAGE} at once ({}); this host serves {}, one per plugin",
            several.join(", "),
            served_list()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::ContractVersion;

    #[test]
    fn a_version_is_served_by_its_minor_track() {
        assert_eq!(
            ContractVersion::for_version("0.3.0"),
            Some(ContractVersion::V0_3)
        );
        assert_eq!(
            ContractVersion::for_version("0.3.7"),
            Some(ContractVersion::V0_3)
        );
        assert_eq!(
            ContractVersion::for_version("0.2.1"),
            Some(ContractVersion::V0_2)
        );
        assert_eq!(ContractVersion::for_version("0.1.0"), None);
        assert_eq!(ContractVersion::for_version("1.3.0"), None);
        assert_eq!(ContractVersion::for_version("0.30.0"), None);
    }
}
