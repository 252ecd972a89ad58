//! A strict reader of the text exposition `/metrics` serves (OpenMetrics, which Prometheus
//! scrapes), enough to check every line and the naming conventions.

use std::collections::HashMap;

/// One sample: `name{labels} value`.
#[derive(Debug, Clone)]
pub struct Sample {
    pub name: String,
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

/// A family: `# TYPE`, `# HELP`, `# UNIT` and its samples.
#[derive(Debug, Default)]
pub struct Family {
    pub kind: String,
    pub unit: Option<String>,
    pub help: bool,
    pub samples: Vec<Sample>,
}

/// Families by name. Panics, saying which line, on anything malformed.
pub fn parse(text: &str) -> HashMap<String, Family> {
    let mut families: HashMap<String, Family> = HashMap::new();
    let mut current = String::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"# EOF"),
        "the exposition ends with # EOF"
    );
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let (keyword, name) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            let value = parts.next().unwrap_or("");
            assert!(valid_name(name), "bad metric name in {line:?}");
            current = name.to_owned();
            let family = families.entry(current.clone()).or_default();
            match keyword {
                "TYPE" => family.kind = value.to_owned(),
                "HELP" => family.help = !value.is_empty(),
                "UNIT" => family.unit = Some(value.to_owned()),
                other => panic!("unknown comment {other:?} in {line:?}"),
            }
            continue;
        }
        let sample = parse_sample(line);
        assert!(
            sample.name.starts_with(&current),
            "sample {line:?} outside its family {current:?}"
        );
        families
            .get_mut(&current)
            .unwrap_or_else(|| panic!("sample before any # TYPE: {line:?}"))
            .samples
            .push(sample);
    }
    families
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn parse_sample(line: &str) -> Sample {
    let (series, value) = line
        .rsplit_once(' ')
        .unwrap_or_else(|| panic!("no value in {line:?}"));
    let value = match value {
        "+Inf" => f64::INFINITY,
        v => v
            .parse()
            .unwrap_or_else(|_| panic!("value {v:?} is not a number in {line:?}")),
    };
    let (name, labels) = match series.split_once('{') {
        None => (series, Vec::new()),
        Some((name, rest)) => {
            let body = rest
                .strip_suffix('}')
                .unwrap_or_else(|| panic!("unclosed labels in {line:?}"));
            let labels = body
                .split(',')
                .map(|pair| {
                    let (k, v) = pair
                        .split_once('=')
                        .unwrap_or_else(|| panic!("bad label {pair:?} in {line:?}"));
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or_else(|| panic!("unquoted label value in {line:?}"));
                    assert!(valid_name(k), "bad label name in {line:?}");
                    (k.to_owned(), v.to_owned())
                })
                .collect();
            (name, labels)
        }
    };
    assert!(valid_name(name), "bad sample name in {line:?}");
    Sample {
        name: name.to_owned(),
        labels,
        value,
    }
}

/// The value of the one sample named `name` whose labels include `labels`.
pub fn value(families: &HashMap<String, Family>, name: &str, labels: &[(&str, &str)]) -> f64 {
    let matching: Vec<f64> = families
        .values()
        .flat_map(|f| &f.samples)
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.iter().any(|(sk, sv)| sk == k && sv == v))
        })
        .map(|s| s.value)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "exactly one sample {name}{labels:?} expected, found {matching:?}"
    );
    matching[0]
}

/// The sum of every sample named `name`.
pub fn sum(families: &HashMap<String, Family>, name: &str) -> f64 {
    families
        .values()
        .flat_map(|f| &f.samples)
        .filter(|s| s.name == name)
        .map(|s| s.value)
        .sum()
}
