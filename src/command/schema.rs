//! `shmkit schema`: the JSON Schema of every `--json` document, generated from the very
//! types that print them (shipped under `docs/schema/`, checked by a test).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `shmkit schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The document (`ls`, `mem`, `snapshot-save`, ...) or the command (`snapshot save`); all
    /// of them with --dir.
    #[arg(required_unless_present = "dir")]
    pub name: Option<String>,
    /// Write `NAME.schema.json` for every document into DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "name")]
    pub dir: Option<PathBuf>,
}

/// Every command that prints JSON with `--json`, and the documents it may print (besides
/// `error`, which every one prints when it fails). A test walks the command line and fails
/// when a command takes `--json` and is not here.
pub const COMMANDS: &[(&str, &[&str])] = &[
    ("mem", &["mem"]),
    ("ls", &["ls"]),
    ("create", &["create"]),
    ("write", &["write"]),
    ("read", &["read"]),
    ("stat", &["stat"]),
    ("chmod", &["chmod"]),
    ("chown", &["chown"]),
    ("resize", &["resize"]),
    ("rm", &["rm"]),
    ("lab list", &["lab-list"]),
    ("lab run", &["lab", "lab-all"]),
    ("reclaim", &["reclaim", "reclaim-measure"]),
    ("doctor", &["doctor"]),
    ("snapshot save", &["snapshot-save"]),
    ("snapshot restore", &["snapshot-restore"]),
    ("snapshot verify", &["snapshot-verify"]),
    ("snapshot ls", &["snapshot-ls"]),
];

/// Every document: its file name and its schema.
pub fn all() -> Vec<(&'static str, schemars::Schema)> {
    use crate::output::Versioned;
    use schemars::schema_for;
    vec![
        ("ls", schema_for!(super::ls::LsJson<'static>)),
        ("mem", schema_for!(shmkit::report::MemReport)),
        ("stat", schema_for!(super::stat::StatOut)),
        ("create", schema_for!(super::create::Created)),
        ("read", schema_for!(super::read::ReadOut)),
        ("write", schema_for!(super::write::Written)),
        ("chmod", schema_for!(super::lifecycle::Changed)),
        ("chown", schema_for!(super::lifecycle::Changed)),
        ("resize", schema_for!(super::lifecycle::Changed)),
        ("rm", schema_for!(super::rm::RmOut)),
        ("lab-list", schema_for!(super::lab::ListOut)),
        ("lab", schema_for!(shmkit::lab::ExperimentReport)),
        ("lab-all", schema_for!(super::lab::AllOut)),
        ("reclaim", schema_for!(shmkit::reclaim::Prediction)),
        ("reclaim-measure", schema_for!(shmkit::reclaim::Measurement)),
        (
            "doctor",
            schema_for!(Versioned<super::doctor::DoctorOut<'static>>),
        ),
        (
            "snapshot-save",
            schema_for!(Versioned<super::snapshot::SaveOut>),
        ),
        (
            "snapshot-restore",
            schema_for!(Versioned<super::snapshot::RestoreOut>),
        ),
        (
            "snapshot-verify",
            schema_for!(Versioned<super::snapshot::LsOut>),
        ),
        (
            "snapshot-ls",
            schema_for!(Versioned<super::snapshot::LsOut>),
        ),
        ("error", schema_for!(crate::output::ErrorDocument<'static>)),
    ]
}

/// The text of a schema file.
pub fn text(schema: &schemars::Schema) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Runs `shmkit schema`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let schemas = all();
    if let Some(dir) = args.dir {
        for (name, schema) in &schemas {
            let path = dir.join(format!("{name}.schema.json"));
            std::fs::write(&path, text(schema)).map_err(|e| {
                shmkit::Error::io(path.display().to_string(), "write", e)
                    .with_fix("give a directory that exists and that you may write")
            })?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = args.name.unwrap_or_default();
    // A command (`snapshot save`) names its first document.
    let name = COMMANDS
        .iter()
        .find(|(command, _)| *command == name)
        .map_or(name.as_str(), |(_, documents)| documents[0])
        .to_string();
    let Some((_, schema)) = schemas.iter().find(|(n, _)| *n == name) else {
        let names: Vec<&str> = schemas.iter().map(|(n, _)| *n).collect();
        return Err(shmkit::Error::new(
            shmkit::ErrorKind::InvalidInput,
            name,
            "no document has this name",
        )
        .with_fix(format!("name one of {}", names.join(", ")))
        .into());
    };
    crate::output::stdout().write_all(text(schema).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every command path (`snapshot save`) that takes `--json`.
    fn json_commands(cmd: &clap::Command, path: &str, out: &mut Vec<String>) {
        if cmd.get_arguments().any(|a| a.get_id() == "json") {
            out.push(path.to_string());
        }
        for sub in cmd.get_subcommands() {
            let name = sub.get_name();
            let sub_path = if path.is_empty() {
                name.to_string()
            } else {
                format!("{path} {name}")
            };
            json_commands(sub, &sub_path, out);
        }
    }

    /// Panics unless every command of `cmd` that takes `--json` has a schema, and every
    /// schema a command (the test of this, in `cli`, hands it the whole command line).
    pub(crate) fn check_every_json_command_has_a_schema(cmd: &clap::Command) {
        let mut found = Vec::new();
        json_commands(cmd, "", &mut found);
        let schemas: Vec<&str> = all().iter().map(|(n, _)| *n).collect();
        for command in &found {
            let entry = COMMANDS.iter().find(|(c, _)| c == command);
            let Some((_, documents)) = entry else {
                panic!("`shmkit {command} --json` has no schema: add it to COMMANDS and all()");
            };
            for doc in *documents {
                assert!(schemas.contains(doc), "{command}: no schema named {doc}");
            }
        }
        for (command, _) in COMMANDS {
            assert!(
                found.iter().any(|f| f == command),
                "COMMANDS names `{command}`, which takes no --json"
            );
        }
        // Every schema belongs to a command (error to all of them).
        for name in schemas {
            assert!(
                name == "error" || COMMANDS.iter().any(|(_, d)| d.contains(&name)),
                "schema {name} belongs to no command"
            );
        }
    }
}
