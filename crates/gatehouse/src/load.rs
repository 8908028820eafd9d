//! Reading a topology file (or the built-in one) from disk.

use std::path::Path;

/// A topology's text and the name diagnostics print for it.
pub struct Loaded {
    pub name: String,
    pub text: String,
}

/// Why a topology could not be read at all (exit code 2).
pub struct Unreadable(pub String);

pub fn load(file: Option<&Path>) -> Result<Loaded, Unreadable> {
    let Some(path) = file else {
        return Ok(Loaded {
            name: gatehouse_model::CONTOSO_NAME.to_string(),
            text: gatehouse_model::CONTOSO.to_string(),
        });
    };
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| Unreadable(format!("cannot read {name}: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Unreadable(format!(
            "{name} is not UTF-8 text (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok(Loaded { name, text })
}

/// Loads and checks a topology for the commands that need its plan. On
/// failure: exit code 2 and the reason when it cannot be read, exit code 1
/// and `check`'s report when it is invalid. Warnings go to standard error.
pub fn load_plan(file: Option<&Path>) -> Result<gatehouse_model::Plan, (u8, String)> {
    let loaded = load(file).map_err(|Unreadable(why)| (2, format!("error: {why}\n")))?;
    let checked = gatehouse_model::check(&loaded.text);
    let source = gatehouse_model::Source::new(&loaded.name, &loaded.text);
    match checked.plan {
        Some(plan) => {
            for d in &checked.diagnostics {
                eprintln!("{}\n", d.render(&source, false));
            }
            Ok(plan)
        }
        None => Err((1, crate::cmd::check::text_report(&checked, &source, false))),
    }
}
