//! `shmkit schema`: the JSON Schema of every `--json` document, generated from the very
//! types that print them (shipped under `docs/schema/`, checked by a test).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Options of `shmkit schema`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The document (`ls`, `mem`, ...); all of them with --dir.
    #[arg(required_unless_present = "dir")]
    pub name: Option<String>,
    /// Write `NAME.schema.json` for every document into DIR.
    #[arg(long, value_name = "DIR", conflicts_with = "name")]
    pub dir: Option<PathBuf>,
}

/// Every document: its file name and its schema.
pub fn all() -> Vec<(&'static str, schemars::Schema)> {
    use schemars::schema_for;
    vec![
        ("ls", schema_for!(super::ls::LsJson<'static>)),
        ("mem", schema_for!(shmkit::report::MemReport)),
        ("stat", schema_for!(super::stat::StatOut)),
        ("create", schema_for!(super::create::Created)),
        ("read", schema_for!(super::read::ReadOut)),
        ("write", schema_for!(super::write::Written)),
        ("rm", schema_for!(super::rm::RmOut)),
        ("snapshot-ls", schema_for!(super::snapshot::LsOut)),
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
