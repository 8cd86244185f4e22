//! Broken specs: each gives the expected message (with its position), and
//! no input, however garbled, makes the loader panic.

use iot_deploy::{Format, SpecFile};
use proptest::prelude::*;

const OK: &str = "name = \"gw\"\n[image]\nrepository = \"ghcr.io/acme/gw\"\ntag = \"1.0.0\"\n";

/// (format, text, expected substring of the rendered diagnostics).
const CASES: &[(Format, &str, &str)] = &[
    (Format::Toml, "name = \n", "1:8: invalid TOML"),
    (Format::Yaml, "name: [gw\n", "invalid YAML"),
    (
        Format::Yaml,
        "name: gw\nname: other\n",
        "2:1: duplicate key `name` (first at 1:1)",
    ),
    (
        Format::Yaml,
        "- a\n- b\n",
        "expected a table of settings, found a list",
    ),
    (
        Format::Toml,
        "[image]\nrepository = \"ghcr.io/acme/gw\"\ntag = \"1\"\n",
        "name: missing: every spec needs a name",
    ),
    (
        Format::Toml,
        "name = \"Gateway_1\"\n",
        "1:8: name: \"Gateway_1\" is not a DNS-1035 label",
    ),
    (Format::Toml, "name = \"1gw\"\n", "is not a DNS-1035 label"),
    (
        Format::Toml,
        "name = \"gw\"\nreplcas = 3\n",
        "3:1: replcas: unknown field `replcas`, expected one of: name,",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[scaling]\nreplcas = 3\n",
        "4:1: scaling.replcas: unknown field `replcas`, did you mean `replicas`?",
    ),
    (
        Format::Toml,
        "name = \"gw\"\nfoo = 1\n",
        "unknown field `foo`, expected one of: name, namespace",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[image]\nrepository = \"ghcr.io/acme/gw:1.0\"\n",
        "contains a tag; set image.repository = \"ghcr.io/acme/gw\" and image.tag = \"1.0\"",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[image]\nrepository = \"ghcr.io/acme/gw\"\n",
        "image.tag: missing: pin the image",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[image]\nrepository = \"ghcr.io/acme/gw\"\ntag = \"latest\"\n",
        "4:7: image.tag: \"latest\" is not a pinned version",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[image]\nrepository = \"ghcr.io/acme/gw\"\ndigest = \"sha256:abc\"\n",
        "image.digest: \"sha256:abc\" is not a digest",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[ports]\nhttp = 70000\n",
        "4:8: ports.http: 70000 is out of range, expected a port from 1 to 65535",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[ports]\nhttp = 80\n",
        "ports.http: 80 is a privileged port",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[ports]\nhttp = \"8080\"\n",
        "ports.http: expected a whole number from 0 to 4294967295, found the string \"8080\" (remove the quotes)",
    ),
    (
        Format::Yaml,
        "name: gw\nports:\n  http: 08080\n",
        "has a leading zero (YAML 1.1 readers take it as octal)",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[resources.limits]\nmemory = \"512MB\"\n",
        "4:10: resources.limits.memory: \"512MB\" is not a Kubernetes quantity, did you mean \"512Mi\"?",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[resources.requests]\ncpu = \"2 cores\"\n",
        "\"2 cores\" is not a Kubernetes quantity, did you mean \"2\"?",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[resources.requests]\nmemory = \"512m\"\n",
        "(m is milli), did you mean \"512Mi\"?",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[resources.requests]\nmemory = \"1Gi\"\n[resources.limits]\nmemory = \"512Mi\"\n",
        "the memory limit \"512Mi\" is below the request \"1Gi\"",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[scaling]\nreplicas = 0\n",
        "scaling.replicas: 0 replicas runs nothing",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[scaling.autoscale]\nmin = 5\nmax = 2\n",
        "scaling.autoscale.max: 2 is below min (5)",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[env]\n\"db-url\" = \"x\"\n",
        "\"db-url\" is not an environment variable name",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[[secrets]]\nname = \"db\"\nkeys = []\n",
        "secrets[0].keys: is empty",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[config_files.\"a.toml\"]\n",
        "config_files[\"a.toml\"]: needs `content`",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[build]\nruntime = \"distroles\"\n",
        "unknown value \"distroles\", did you mean \"distroless\"?",
    ),
    (
        Format::Yaml,
        "name: gw\nhardening:\n  read_only_root_filesystem: yes\n",
        "\"yes\" is a boolean only to YAML 1.1 readers, expected true or false",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[ingress]\nhost = \"localhost\"\n",
        "ingress.host: \"localhost\" is not a fully qualified host name",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[cronjob]\nschedule = \"every day\"\nargs = [\"x\"]\n",
        "cronjob.schedule: \"every day\" is not a cron schedule",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.postgres]\nport = 0\n",
        "dependencies.postgres.port: 0 is out of range",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nprefix = \"iot\\nuser admin\"\n",
        "4:10: dependencies.mqtt.prefix: \"iot\\nuser admin\" contains a line break",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nprefix = \"iot/#\"\n",
        "dependencies.mqtt.prefix: \"iot/#\" contains the MQTT wildcard '#'",
    ),
    (
        Format::Yaml,
        "name: gw\ndependencies:\n  mqtt:\n    prefix: \"iot/+/x\"\n",
        "4:13: dependencies.mqtt.prefix: \"iot/+/x\" contains the MQTT wildcard '+'",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nprefix = \"iot/\"\n",
        "dependencies.mqtt.prefix: \"iot/\" has an empty level",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nprefix = \"io\\u0000t\"\n",
        "contains a NUL character",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.tls]\nmode = \"mutal\"\n",
        "4:8: dependencies.mqtt.tls.mode: unknown value \"mutal\", did you mean \"mutual\"?",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nplaintext = \"public\"\n",
        "dependencies.mqtt.plaintext: unknown value \"public\"",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\ngateway_users = [\"gw 2\"]\n",
        "dependencies.mqtt.gateway_users[0]: \"gw 2\" contains whitespace",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nauth = \"anonymous\"\n[dependencies.mqtt.tls]\nmode = \"mutual\"\n",
        "dependencies.mqtt.auth: \"anonymous\" cannot be combined with mutual TLS",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nplaintext = \"all\"\n[dependencies.mqtt.tls]\nmode = \"mutual\"\n",
        "dependencies.mqtt.plaintext: a plaintext listener has no client certificate",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nauth = \"certificate\"\n",
        "dependencies.mqtt.auth: \"certificate\" needs mutual TLS",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.tls]\nport = 1883\n",
        "dependencies.mqtt.tls.port: 1883 is also the plaintext port",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.tls.cert_manager]\nissuer = \"CA_1\"\n",
        "dependencies.mqtt.tls.cert_manager.issuer: \"CA_1\" is not a Secret name",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\n[[secrets]]\nname = \"m\"\nkeys = [\"MQTT_PASSWORD\"]\n",
        "secrets[0].keys[0]: the MQTT password is mounted as a file (MQTT_PASSWORD_FILE)",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nplaintext = \"loopback\"\n",
        "dependencies.mqtt.plaintext: \"loopback\" without TLS leaves the broker no listener the service can reach",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\nmax_queued_messages = 0\n",
        "4:23: dependencies.mqtt.broker.max_queued_messages: 0 lifts the limit",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\nmax_queued_messages = 20000000\n",
        "dependencies.mqtt.broker.max_queued_messages: 20000000 is more than 10000000",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\nmax_inflight_messages = 70000\n",
        "dependencies.mqtt.broker.max_inflight_messages: 70000 is out of range, expected 1 to 65535",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\ndevices = 0\n",
        "4:11: dependencies.mqtt.broker.devices: expected 1 or more",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\ndevices = 100000\ndevice_messages_per_minute = 60\nconsumer_outage_seconds = 86400\n",
        "dependencies.mqtt.broker.consumer_outage_seconds: 86400 s of 100000 devices x 60/min is 8640000000 messages for each of 1 consumer(s)",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\nautosave_interval = 0\n",
        "dependencies.mqtt.broker.autosave_interval: 0 turns autosave off",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\npersistent_client_expiration_hours = 1\nconsumer_outage_seconds = 7200\n",
        "dependencies.mqtt.broker.persistent_client_expiration_hours: 1 h is shorter than consumer_outage_seconds (7200 s)",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\nstorage = \"5GB\"\n",
        "dependencies.mqtt.broker.storage: \"5GB\" is not a Kubernetes quantity, did you mean \"5Gi\"?",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\nstorage_class = \"Fast SSD\"\n",
        "dependencies.mqtt.broker.storage_class: \"Fast SSD\" is not a StorageClass name",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\nauth_secret = \"auth\\nkind: Pod\"\n",
        "dependencies.mqtt.broker.auth_secret: \"auth\\nkind: Pod\" is not a Secret name",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\ndevice_cidrs = [\"10.0.0.0/33\"]\n",
        "dependencies.mqtt.broker.device_cidrs[0]: \"10.0.0.0/33\" is not a CIDR",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker.resources.limits]\nmemory = \"512MB\"\n",
        "dependencies.mqtt.broker.resources.limits.memory: \"512MB\" is not a Kubernetes quantity",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.broker]\nstorag = \"1Gi\"\n",
        "dependencies.mqtt.broker.storag: unknown field `storag`, did you mean `storage`?",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nhost = \"broker.example.com\"\n[dependencies.mqtt.broker]\nkubernetes = true\n",
        "dependencies.mqtt.host: \"broker.example.com\" is not a Service of namespace \"gw\"",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\ncidr = \"10.0.0.0/8\"\n[dependencies.mqtt.broker]\nkubernetes = true\n",
        "dependencies.mqtt.cidr: \"10.0.0.0/8\" restricts egress to a network",
    ),
    (
        Format::Toml,
        "name = \"mosquitto\"\n[dependencies.mqtt]\n",
        "dependencies.mqtt.host: the broker's objects would be named \"mosquitto\"",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nhost = \"1mqtt\"\n",
        "dependencies.mqtt.host: \"1mqtt\" would name the broker's Service",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nhost = \"mqtt-broker-with-a-name-much-longer-than-fifty-two-chars\"\n",
        "dependencies.mqtt.host: \"mqtt-broker-with-a-name-much-longer-than-fifty-two-chars\" (56 characters) would name the broker's StatefulSet, which may have at most 52",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt]\nimage = \"eclipse-mosquitto:2.0.20\\nprivileged: true\"\n",
        "dependencies.mqtt.image: \"eclipse-mosquitto:2.0.20\\nprivileged: true\" contains a line break",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.share_group]\nclient_id_env = \"client-id\\nX\"\n",
        "dependencies.mqtt.share_group.client_id_env: \"client-id\\nX\" is not an environment variable name",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.mqtt.share_group]\nclient_id_env = \"MQTT_URL\"\n",
        "dependencies.mqtt.share_group.client_id_env: MQTT_URL is set from the MQTT dependency itself",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[env]\nGATEWAY_CLIENT_ID = \"fixed\"\n[dependencies.mqtt.share_group]\n",
        "dependencies.mqtt.share_group.client_id_env: GATEWAY_CLIENT_ID is also set in env or secrets",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[environments.production]\n",
        "unknown environment `production`",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[environments.prod]\nname = \"other\"\n",
        "environments.prod.name: `name` cannot differ per environment",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[environments.prod.scaling]\nreplicas = -1\n",
        "4:12: environments.prod.scaling.replicas: -1 is out of range",
    ),
    (
        Format::Toml,
        "name = \"gw\"\nports = 8080\n",
        "ports: expected a table, found the integer 8080",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[alerts]\nerror_ratio = 5.0\n",
        "alerts.error_ratio: 5 is out of range, expected a ratio above 0 and at most 1",
    ),
    // Add-ons (issue #15, platform outputs): each field at its path.
    (
        Format::Toml,
        "name = \"gw\"\n[prometheus_operator.labels]\n\"bad key!\" = \"x\"\n",
        "4:14: prometheus_operator.labels[\"bad key!\"]: \"bad key!\" = \"x\" is not a Kubernetes label",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[prometheus_operator.labels]\n\"app.kubernetes.io/name\" = \"x\"\n",
        "is a label iot-deploy sets itself",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[prometheus_operator]\nselector = {}\n",
        "prometheus_operator.selector: unknown field `selector`",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout]\nstrategy = \"linear\"\n",
        "4:12: rollout.strategy: unknown value \"linear\", expected one of \"canary\", \"blue-green\"",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout]\nsteps = []\n",
        "rollout.steps: a canary needs at least one step",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout]\nsteps = [{ weight = 120 }]\n",
        "rollout.steps[0].weight: 120 is out of range, expected 1 to 100",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout]\nsteps = [{ weight = 20, pause = \"1d\" }]\n",
        "rollout.steps[0].pause: \"1d\" is not a duration like \"5m\"",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout]\nstrategy = \"blue-green\"\ntraffic = \"smi\"\n",
        "rollout.traffic: traffic routing is for the canary strategy",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout]\nauto_promotion_seconds = 60\n",
        "rollout.auto_promotion_seconds: only for strategy = \"blue-green\"",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout]\nvirtual_service = \"vs\"\n",
        "rollout.virtual_service: only with traffic = \"istio\"",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout]\ntraffic = \"istio\"\nvirtual_service = \"VS_1\"\n",
        "rollout.virtual_service: \"VS_1\" is not an object name",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout.analysis]\nprometheus_address = \"prometheus:9090\"\n",
        "rollout.analysis.prometheus_address: \"prometheus:9090\" is not an address like",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout.analysis]\ninterval = \"1 minute\"\n",
        "rollout.analysis.interval: \"1 minute\" is not a duration",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[rollout.analysis]\nmax_error_ratio = 5.0\n",
        "rollout.analysis.max_error_ratio: 5 is out of range",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[scaling.autoscale]\n[scaling.keda]\n",
        "scaling.keda: scaling.autoscale is set too",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[scaling.keda]\nmin = 5\nmax = 2\n",
        "scaling.keda.max: 2 is below min (5)",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[scaling.keda]\ntarget = 0\n",
        "scaling.keda.target: 0 is not a positive number",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[scaling.keda]\nmetric = \"lag\"\n",
        "4:10: scaling.keda.metric: unknown value \"lag\", expected one of \"in-flight\", \"frames-per-second\"",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[scaling.keda]\nprometheus_address = \"http://p:9090?x=\\\"a\\\"\"\n",
        "scaling.keda.prometheus_address:",
    ),
    // The PostgreSQL migration and password Secret (issue #14).
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.postgres]\nmigrations = \"/etc/schema.sql\"\n",
        "dependencies.postgres.migrations: \"/etc/schema.sql\" is not a path to a .sql file relative to the spec",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.postgres]\nmigrations = \"schema.txt\"\n",
        "dependencies.postgres.migrations: \"schema.txt\" is not a path to a .sql file",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.postgres]\nmigrations = \"schema.sql\"\n",
        "dependencies.postgres.migrations: files can only be read when the spec is loaded from a file",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.postgres]\npassword_secret = \"Db_Pass\"\n",
        "dependencies.postgres.password_secret: \"Db_Pass\" is not a Secret name",
    ),
    (
        Format::Toml,
        "name = \"gw\"\n[dependencies.postgres]\nmigrations_sql = \"DROP TABLE x;\"\n",
        "dependencies.postgres.migrations_sql: unknown field `migrations_sql`",
    ),
];

fn with_image(text: &str, format: Format) -> String {
    // Add a valid image (as line 2) unless the case is about the image or the whole document.
    if text.contains("[image]") || text.contains("image:") || !text.starts_with("name") {
        return text.to_string();
    }
    match format {
        Format::Toml => {
            let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
            format!(
                "{first}\nimage = {{ repository = \"ghcr.io/acme/gw\", tag = \"1.0.0\" }}\n{rest}"
            )
        }
        Format::Yaml => format!("{text}image:\n  repository: ghcr.io/acme/gw\n  tag: \"1.0.0\"\n"),
    }
}

#[test]
fn each_broken_spec_gives_its_message() {
    assert!(CASES.len() >= 20);
    assert!(SpecFile::parse(OK, Format::Toml).is_ok());
    let mut failures = Vec::new();
    for (format, text, expected) in CASES {
        let text = with_image(text, *format);
        match SpecFile::parse(&text, *format) {
            Ok(_) => failures.push(format!("accepted:\n{text}")),
            Err(d) if d.to_string().contains(expected) => {}
            Err(d) => failures.push(format!("{text}\nexpected {expected:?}, got:\n{d}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n---\n"));
}

proptest! {
    #[test]
    fn garbage_never_panics(text in any::<String>()) {
        let _ = SpecFile::parse(&text, Format::Toml);
        let _ = SpecFile::parse(&text, Format::Yaml);
    }

    #[test]
    fn structured_garbage_never_panics(
        text in "[a-z_\\[\\]{}:=,\"'\\- \\n0-9.#&*!|>]{0,200}",
    ) {
        let _ = SpecFile::parse(&text, Format::Toml);
        let _ = SpecFile::parse(&text, Format::Yaml);
        let _ = SpecFile::parse(&format!("{OK}{text}"), Format::Toml);
    }
}
