//! The `app.kubernetes.io/*` labels.

use crate::generate::k8s::types::Labels;
use crate::spec::DeploySpec;

/// The tool recorded in `app.kubernetes.io/managed-by`.
pub(crate) const MANAGED_BY: &str = "iot-deploy";

/// A valid label value from any text: at most 63 characters, alphanumeric ends.
pub(crate) fn label_value(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(63)
        .collect();
    cleaned
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// The immutable selector subset: name and instance.
pub(crate) fn selector(spec: &DeploySpec) -> Labels {
    selector_for(spec, &spec.name)
}

/// Selector labels for another instance of the same app (the CronJob's pods).
pub(crate) fn selector_for(spec: &DeploySpec, instance: &str) -> Labels {
    Labels::from([
        ("app.kubernetes.io/name".into(), spec.name.clone()),
        ("app.kubernetes.io/instance".into(), instance.to_string()),
    ])
}

/// Every recommended label.
pub(crate) fn all(spec: &DeploySpec) -> Labels {
    all_for(spec, &spec.name, &spec.component)
}

/// Every recommended label, for an instance and component.
pub(crate) fn all_for(spec: &DeploySpec, instance: &str, component: &str) -> Labels {
    let mut l = selector_for(spec, instance);
    l.insert(
        "app.kubernetes.io/version".into(),
        label_value(&spec.image.version()),
    );
    l.insert("app.kubernetes.io/component".into(), label_value(component));
    l.insert(
        "app.kubernetes.io/part-of".into(),
        label_value(spec.part_of()),
    );
    l.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
    l
}
